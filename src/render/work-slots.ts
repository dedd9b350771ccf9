// Which agent message of an answer the agent's work belongs to. An answer is a row of slots, one per agent message
// (in the order they appear). Work that starts (a tool call, a step, reasoning) goes to the slot of the next agent
// message, the one not started yet (created when needed): it is shown above that message's text, so work reads
// before the text that follows from it, and a message whose text is being written is never changed above it. The
// rest of a tool call or step (arguments, result, end) goes where it started.
import type { WorkEvent } from "../agent/run-events";
import type { LiveMessage } from "./live-message";
import { Work } from "./work";

export interface Slot {
  /** The agent message's place in the answer. */
  index: number;
  work: Work;
  /** Whether its text started (it has a messageId). */
  started: boolean;
  /** Its live message, once something of it is shown (live rooms). */
  live?: LiveMessage;
  /** Its whole text, held while its work still runs (the message is finished once the work is). */
  held?: string;
  /** Finished: its final content is sent (or being sent). */
  done: boolean;
}

export class Slots {
  readonly all: Slot[] = [];
  private readonly byMessage = new Map<string, Slot>();
  /** The slot of the next agent message, when work arrived before its text. */
  private next: Slot | undefined;

  /** The slot of an agent message: its own, or the one its work already waits in, or a new one. */
  forMessage(messageId: string): Slot {
    let slot = this.byMessage.get(messageId);
    if (slot) return slot;
    slot = this.next ?? this.add();
    this.next = undefined;
    slot.started = true;
    this.byMessage.set(messageId, slot);
    return slot;
  }

  /** The slot a work event belongs to; undefined when it continues something never started (ignored). */
  forWork(e: WorkEvent): Slot | undefined {
    switch (e.kind) {
      case "tool_args":
      case "tool_end":
      case "tool_result":
        return this.all.find((s) => s.work.tool(e.toolCallId) !== undefined);
      case "step_end":
        for (let i = this.all.length - 1; i >= 0; i -= 1) {
          const slot = this.all[i];
          if (slot?.work.step(e.name) !== undefined) return slot;
        }
        return undefined;
      case "tool_start":
        return this.all.find((s) => s.work.tool(e.toolCallId) !== undefined) ?? this.upcoming();
      case "step_start":
      case "reasoning":
        return this.upcoming();
    }
  }

  private upcoming(): Slot {
    this.next ??= this.add();
    return this.next;
  }

  private add(): Slot {
    const slot: Slot = { index: this.all.length, work: new Work(), started: false, done: false };
    this.all.push(slot);
    return slot;
  }
}
