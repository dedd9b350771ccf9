// A run cancelled because its batch changed while the agent was at it (batch-changes.ts): what it posted is redacted
// (a question of it was redacted) or taken over by the run that answers the batch as it now is (an edit).
import { retire } from "../render/takeover";
import type { BatchChange } from "./batch-changes";
import type { PipelineDeps } from "./pipeline-deps";
import { txnIdFor, type TurnMessage, type TurnRun, type TurnRunOptions } from "./turn-run";

/** A thread's next run: its batch and how it runs. */
export interface NextBatch { batch: TurnMessage[]; opts: TurnRunOptions }

/** How the pipeline marks messages handled. */
export interface SettleMessages {
  settle(messages: TurnMessage[]): Promise<void>;
  logHandled(messages: TurnMessage[], outcome: string): void;
}

/** A run cancelled because its batch changed: what it posted is redacted (a redaction) or taken over (an edit). */
export async function afterChange(deps: Pick<PipelineDeps, "sender" | "log">, run: TurnRun, batch: TurnMessage[], change: BatchChange,
  done: SettleMessages): Promise<NextBatch | undefined> {
  const roomId = batch[0]?.roomId ?? "";
  const shown = [...(await run.answerEventIds()), ...(await run.unusedTakeOver())];
  let takeOver: string[] = shown;
  if (change.redacted.length > 0) {
    deps.log.info({ roomId, redacted: change.redacted.length, left: change.batch.length }, "a question being answered was redacted: its answer is withdrawn");
    await retire(deps.sender, deps.log, roomId, shown, txnIdFor(change.cause, roomId, "retired"), "redacted");
    await done.settle(change.redacted);
    done.logHandled(change.redacted, "redacted");
    takeOver = [];
  } else {
    deps.log.info({ roomId, runId: change.cause }, "a question being answered was edited: answering it again");
  }
  return change.batch.length > 0 ? { batch: change.batch, opts: { runId: change.cause, takeOver } } : undefined;
}
