// The end of a run that went its course (pipeline.ts): its messages settled (their journal entries done), a resumed
// prompt recorded, its answer remembered (for later edits and redactions of its questions).
import type { PipelineDeps } from "./pipeline-deps";
import type { TurnMessage, TurnRun } from "./turn-run";

/** Marks messages handled; a failure is logged, never thrown. */
export async function settle(deps: Pick<PipelineDeps, "onSettled" | "log">, messages: TurnMessage[], byRun?: string): Promise<void> {
  try {
    await deps.onSettled(messages, byRun);
  } catch (e) {
    deps.log.error({ err: String(e), count: messages.length }, "could not mark messages handled; they may be answered again after a restart");
  }
}

/** A run that went its course: its messages settled, its answer recorded. */
export async function finished(deps: PipelineDeps, run: TurnRun, batch: TurnMessage[]): Promise<void> {
  await settle(deps, batch, run.runId);
  const resumed = batch.find((m) => m.resume);
  if (resumed && deps.interrupts) {
    await deps.interrupts.resumed(resumed).catch((e: unknown) =>
      deps.log.error({ err: String(e), roomId: resumed.roomId }, "could not record that a paused run was resumed"));
  }
  if (!deps.onAnswered) return;
  try {
    await deps.onAnswered(batch, await run.answerEventIds());
  } catch (e) {
    deps.log.warn({ err: String(e), roomId: batch[0]?.roomId }, "could not remember an answer; a later edit or redaction of its question will not reach it");
  }
}
