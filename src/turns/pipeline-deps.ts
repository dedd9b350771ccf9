// What the turn pipeline (pipeline.ts) is given: the agent, the sender, its options, and the hooks it calls as turns
// go their course.
import type { Logger } from "pino";
import type { RunResult } from "../agent/link";
import type { AgentInterrupt } from "../agent/protocol-v2";
import type { RoomMessageSender } from "../matrix/sender";
import type { LiveRendering } from "../render/answer";
import type { AttachmentPosting } from "../render/attachment-post";
import type { RunBatches } from "./run-batches";
import type { RunLimits } from "./run-limiter";
import type { AgentRunner, TurnMessage, TurnOptions } from "./turn-run";

export interface PipelineDeps {
  agent: AgentRunner;
  sender: RoomMessageSender;
  log: Logger;
  options: TurnOptions & { turnQueueLimit: number } & Partial<RunLimits>;
  /** Live answers (src/render/); absent: answers are posted when complete. */
  live?: LiveRendering;
  /** The agent's files: uploaded and posted (src/render/attachment-post.ts). */
  attachments?: AttachmentPosting;
  /**
   * Called once every message of a finished run (answered or told of the failure) is settled. `byRun`: the run whose
   * answer settled them (absent for messages settled otherwise: redacted, refused, dropped).
   */
  onSettled: (messages: TurnMessage[], byRun?: string) => Promise<void>;
  onRunFinished?: (result: RunResult, messages: TurnMessage[], seconds: number) => void;
  /** A batch was answered (or told of its failure): the bot's messages showing the answer, in order. */
  onAnswered?: (messages: TurnMessage[], eventIds: string[]) => Promise<void>;
  /** Messages dropped unanswered (they waited behind a prompt in a room the bot is no longer in), settled and logged. */
  onDropped?: (messages: TurnMessage[], reason: "room_left") => void;
  /** Pending prompts (src/interrupts/): a run that paused for answers, a resume run done, /stop of a paused thread. */
  interrupts?: PipelineInterrupts;
  /** Which turns each run answers, kept durably so that recovery runs a batch cut short again as it was. */
  batches?: RunBatches;
  /**
   * The store applies writes in issue order (Store.writesInIssueOrder): a run's end issues its writes together, one
   * commit (run-end.ts); elsewhere each waits for the one before.
   */
  writesInIssueOrder?: boolean;
  /** `sender.sendEvent` records each message in the store before it sends it (the outbox): see record-gate.ts. */
  sendsRecorded?: boolean;
}

export interface PipelineInterrupts {
  /** The run paused with these interrupts: record and post them. Called before its messages are settled. */
  paused(messages: TurnMessage[], runId: string, interrupts: AgentInterrupt[]): Promise<void>;
  /** A resume run went its course (its answer is out, or its failure told). */
  resumed(message: TurnMessage): Promise<void>;
  /** /stop in a paused thread: its prompts are cancelled. */
  stopped(threadKey: string): Promise<void>;
}
