// What the prompts look like in the room: each posted (a poll for a choice, a notice else, ✅ and ❌ added to an
// approval), with txnIds from the run so that a repost after a crash is deduplicated; an answered prompt edited to
// show its outcome, a poll ended.
import type { Logger } from "pino";
import type { RoomMessageSender } from "../matrix/sender";
import { answerContents, editContent } from "../turns/reply-content";
import { txnIdFor } from "../turns/turn-run";
import { optionId } from "./answers";
import { APPROVE_KEY, DENY_KEY } from "./kinds";
import { POLL_END, POLL_START, pollEndContent, pollStartContent } from "./polls";
import type { PausedRun } from "./records";

export interface Posting {
  sender: RoomMessageSender;
  log: Logger;
}

/** Posts prompt `i` of the run (a poll for a choice, a notice else; an approval gets ✅ and ❌), its event id set. */
export async function postPrompt(deps: Posting, run: PausedRun, i: number): Promise<void> {
  const prompt = run.prompts[i];
  if (!prompt) return;
  const target = { roomId: run.roomId, eventId: run.askerEventId, sender: run.asker, isDirect: run.isDirect,
    ...(run.threadRootId ? { threadRootId: run.threadRootId } : {}) };
  const txn = (part: string): string => txnIdFor(run.runId, run.roomId, `prompt.${i}${part}`);
  const [question, ...options] = prompt.kind === "choice" ? prompt.text.split("\n").filter((l) => l !== "") : [];
  const sent = prompt.kind === "choice"
    ? await deps.sender.sendEvent(run.roomId, POLL_START, pollStartContent(question ?? "", prompt.options ?? options,
      (prompt.options ?? []).map((_, n) => optionId(n)), run.threadRootId), txn(""))
    : await deps.sender.sendEvent(run.roomId, "m.room.message", answerContents(prompt.text, target, "m.notice")[0] ?? {}, txn(""));
  if (!sent.ok) {
    deps.log.error({ roomId: run.roomId, error: sent.error.describe() }, "could not post a prompt; it stays pending");
    return;
  }
  prompt.eventId = sent.eventId;
  if (prompt.kind !== "approval") return;
  for (const [part, key] of [[".yes", APPROVE_KEY], [".no", DENY_KEY]] as const) {
    const reaction = { "m.relates_to": { rel_type: "m.annotation", event_id: sent.eventId, key } };
    const r = await deps.sender.sendEvent(run.roomId, "m.reaction", reaction, txn(part));
    if (!r.ok) deps.log.warn({ roomId: run.roomId, error: r.error.describe() }, "could not add a reaction to a prompt");
  }
}

/** Edits an answered prompt to show its outcome (a poll is ended too), once: whether it was shown now (to be saved). */
export async function showOutcome(deps: Posting, run: PausedRun, index: number): Promise<boolean> {
  const prompt = run.prompts[index];
  if (!prompt?.answer || prompt.shown || prompt.eventId === undefined) return false;
  const txn = txnIdFor(run.runId, run.roomId, `prompt.${index}.outcome`);
  const text = `${prompt.text}\n\n**${prompt.answer.shown}**`;
  const [content] = answerContents(text, { roomId: run.roomId, eventId: run.askerEventId, sender: run.asker, isDirect: true }, "m.notice");
  const result = prompt.kind === "choice"
    ? await deps.sender.sendEvent(run.roomId, POLL_END, pollEndContent(prompt.eventId, prompt.answer.shown), txn)
    : await deps.sender.sendEvent(run.roomId, "m.room.message", editContent(prompt.eventId, content ?? {}), txn);
  if (!result.ok) deps.log.warn({ roomId: run.roomId, error: result.error.describe() }, "could not show a prompt's outcome");
  prompt.shown = true;
  return true;
}
