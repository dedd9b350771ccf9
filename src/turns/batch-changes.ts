// The state of a thread's turns that edits and redactions change (pipeline.ts): the batch being answered, what waits,
// and a change of the running batch made while the agent was at it.
import type { TurnMessage, TurnRun } from "./turn-run";

/** What an edit or a redaction did to the turns: see TurnPipeline.revised and .redacted. */
export type ChangeOutcome =
  /** A waiting message: replaced by its new version, or (redacted) dropped; `dropped` are to be settled. */
  | { kind: "waiting"; dropped: TurnMessage[] }
  /** The run in flight was cancelled; its batch runs again as it now is. */
  | { kind: "running" }
  /** Neither waiting nor being answered (answered already, or never asked). */
  | { kind: "unknown" }
  /** An edit by someone other than the message's sender: ignored. */
  | { kind: "not_sender" };

export interface ThreadState {
  running: TurnRun | undefined;
  /** The running batch, as it was launched. */
  batch: TurnMessage[];
  queue: TurnMessage[];
  /** Resolves once the running batch is settled: answered and recorded, or launched again. */
  done: Promise<void>;
  /** The running batch changed while the agent was at it: the run is cancelled and this runs instead. */
  change?: BatchChange;
  /** The last run paused for people's answers (src/interrupts/): messages wait until it is resumed or stopped. */
  paused?: boolean;
}

export interface BatchChange {
  /** The batch as it now is: edited messages in their new version, redacted ones left out. */
  batch: TurnMessage[];
  /** The event that caused it (it names the new run). */
  cause: string;
  /** Redacted messages: the cancelled run's messages are redacted too (else the new run takes them over). */
  redacted: TurnMessage[];
}

/** Where a message is: waiting in a thread's queue, or in the batch being answered (or about to run again). */
export interface Found {
  thread: ThreadState;
  list: TurnMessage[];
  index: number;
  where: "queue" | "change" | "running";
}

/** Where message `eventId` of a room is in the pipeline's threads, if it waits or is being answered. */
export function findMessage(threads: ReadonlyMap<string, ThreadState>, roomId: string, eventId: string): Found | undefined {
  for (const thread of threads.values()) {
    const queued = thread.queue.findIndex((m) => m.roomId === roomId && m.eventId === eventId);
    if (queued >= 0) return { thread, list: thread.queue, index: queued, where: "queue" };
    // Once the running batch changed, the change holds it as it now is (a message redacted from it is gone).
    const list = thread.change?.batch ?? thread.batch;
    const index = thread.running ? list.findIndex((m) => m.roomId === roomId && m.eventId === eventId) : -1;
    if (index >= 0) return { thread, list, index, where: thread.change ? "change" : "running" };
  }
  return undefined;
}
