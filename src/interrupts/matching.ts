// Which pending prompt an incoming event answers (answers.ts reads the event): a reaction or vote on a prompt, a
// reply to one, or else the latest pending prompt in its thread the message answers (for !approve/!deny, in the room).
import type { RoomEvent } from "../matrix/events";
import { decide, type Said } from "./answers";
import type { PausedRun, PausedRuns, Prompt } from "./records";

/** A prompt of a recorded run: the record's key and the prompt's index. */
export interface Target { key: string; run: PausedRun; index: number }

/** What the matching reads: the store's index by prompt event, the records in memory, the thread key of a message. */
export interface Known {
  runs: Pick<PausedRuns, "byPrompt">;
  records: ReadonlyMap<string, PausedRun>;
  threadKeyFor(roomId: string, threadRootId: string | undefined): Promise<string>;
}

/** The pending prompt an event answers: a reaction or vote on it, a reply to it, or else the latest that the message answers. */
export async function targetOf(known: Known, event: RoomEvent, said: Said): Promise<Target | undefined> {
  if (said.on === "nothing") return undefined;
  const promptId = said.on === "prompt" ? said.promptEventId : said.repliesTo;
  const byPrompt = promptId !== undefined ? await known.runs.byPrompt(promptId) : undefined;
  const found = byPrompt !== undefined ? known.records.get(byPrompt) : undefined;
  if (found && byPrompt !== undefined && found.state === "waiting") {
    const index = found.prompts.findIndex((p) => p.eventId === promptId);
    if (index >= 0 && (said.on === "prompt" || decide(found.prompts[index] as Prompt, said, "") !== undefined)) {
      return { key: byPrompt, run: found, index };
    }
  }
  if (said.on !== "message") return undefined;
  // Not a reply to a prompt: the latest pending prompt this message answers, in its thread (then, for
  // !approve/!deny, in the room).
  const threadKey = await known.threadKeyFor(event.room_id, said.threadRootId);
  const waiting = [...known.records].filter(([, r]) => r.roomId === event.room_id && r.state === "waiting").reverse();
  const pick = (sameThread: boolean): Target | undefined => {
    for (const [key, run] of waiting) {
      if (sameThread && run.threadKey !== threadKey) continue;
      for (let index = run.prompts.length - 1; index >= 0; index--) {
        const p = run.prompts[index] as Prompt;
        if (p.answer || p.eventId === undefined) continue;
        if (p.kind === "text" && event.sender !== run.asker) continue; // the asker's next message
        if (decide(p, said, "") !== undefined) return { key, run, index };
      }
    }
    return undefined;
  };
  return pick(true) ?? (said.command ? pick(false) : undefined);
}
