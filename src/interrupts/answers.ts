// Reading an incoming room event as an answer to a pending prompt: a reaction on an approval prompt, a poll vote, a
// reply "yes"/"no", `!approve`/`!deny`, or the asker's next message in the thread of a free-text prompt. Pure: the
// manager looks the prompts up and checks who answers.
import type { RoomEvent } from "../matrix/events";
import { relationOf, stripReplyFallback } from "../turns/classify";
import { approvalOfCommand, approvalOfReaction, approvalOfWords } from "./kinds";
import type { Prompt } from "./records";
import { voteOf } from "./polls";

/** What an event says, before it is matched to a prompt. */
export type Said =
  /** A reaction or a vote on a prompt event. */
  | { on: "prompt"; promptEventId: string; reaction?: string; vote?: string[] }
  /** A message: its text, the event it replies to, whether it is `!approve`/`!deny`, and its thread root. */
  | { on: "message"; body: string; repliesTo?: string; command?: boolean; threadRootId?: string }
  | { on: "nothing" };

export function readEvent(event: RoomEvent): Said {
  const rel = relationOf(event);
  if (event.type === "m.reaction") {
    const key = (event.content["m.relates_to"] as Record<string, unknown> | undefined)?.["key"];
    return rel.relType === "m.annotation" && rel.eventId && typeof key === "string"
      ? { on: "prompt", promptEventId: rel.eventId, reaction: key } : { on: "nothing" };
  }
  const vote = voteOf(event);
  if (vote) return { on: "prompt", promptEventId: vote.pollEventId, vote: vote.answers };
  if (event.type !== "m.room.message" || rel.relType === "m.replace") return { on: "nothing" };
  const raw = event.content["body"];
  if (typeof raw !== "string" || event.content["msgtype"] === "m.notice") return { on: "nothing" };
  const body = stripReplyFallback(raw).trim();
  return { on: "message", body, ...(rel.inReplyTo ? { repliesTo: rel.inReplyTo } : {}),
    ...(approvalOfCommand(body) !== undefined ? { command: true } : {}),
    ...(rel.relType === "m.thread" && rel.eventId ? { threadRootId: rel.eventId } : {}) };
}

export type Decided = { status: "resolved"; payload: unknown; shown: string } | undefined;

/** An answer to one prompt from a reaction, a vote or a message's text; undefined when it is no answer to it. */
export function decide(prompt: Prompt, said: Said, byName: string): Decided {
  if (said.on === "nothing") return undefined;
  if (prompt.kind === "approval") {
    const yes = said.on === "prompt" ? (said.reaction !== undefined ? approvalOfReaction(said.reaction) : undefined)
      : said.command ? approvalOfCommand(said.body) : approvalOfWords(said.body);
    if (yes === undefined) return undefined;
    return { status: "resolved", payload: { approved: yes }, shown: yes ? `✅ approved by ${byName}` : `❌ denied by ${byName}` };
  }
  if (prompt.kind === "choice") {
    const options = prompt.options ?? [];
    let choice: string | undefined;
    if (said.on === "prompt" && said.vote) choice = options.find((_, i) => said.vote?.includes(optionId(i)));
    if (said.on === "message" && !said.command) {
      const n = Number.parseInt(said.body, 10);
      choice = String(n) === said.body && n >= 1 && n <= options.length ? options[n - 1]
        : options.find((o) => o.toLowerCase() === said.body.toLowerCase());
    }
    return choice === undefined ? undefined : { status: "resolved", payload: choice, shown: `☑️ ${choice} (chosen by ${byName})` };
  }
  if (said.on !== "message" || said.command || said.body === "") return undefined;
  return { status: "resolved", payload: said.body, shown: `✏️ answered by ${byName}` };
}

/** The poll answer id of option `i`. */
export function optionId(i: number): string {
  return `o${i + 1}`;
}
