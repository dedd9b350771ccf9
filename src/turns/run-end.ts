// The end of a run that went its course (pipeline.ts): its messages settled (their journal entries done), a resumed
// prompt recorded, its answer remembered (for later edits and redactions of its questions), and, when its thread has
// nothing more to run, the thread's run record deleted (run-batches.ts).
//
// On a store that applies writes in issue order (PipelineDeps.writesInIssueOrder: SQLite's group commit) these are
// issued together, in that order, and share one commit: none of them is durable without the ones before it (the run
// record is never gone while a turn it names is not marked done). Elsewhere each waits for the one before, as the
// order needs. Each failure is logged on its own, never thrown.
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

/**
 * A run that went its course: its messages settled, its answer recorded; `idle` (the thread's record deleted, never
 * rejecting) last, when the thread has nothing more to run.
 */
export async function finished(deps: PipelineDeps, run: TurnRun, batch: TurnMessage[], idle?: () => Promise<void>): Promise<void> {
  const steps: Array<() => Promise<void>> = [() => settle(deps, batch, run.runId), () => resumed(deps, batch), () => remembered(deps, run, batch)];
  if (idle) steps.push(idle);
  if (deps.writesInIssueOrder) await Promise.all(steps.map((step) => step()));
  else for (const step of steps) await step();
}

async function resumed(deps: PipelineDeps, batch: TurnMessage[]): Promise<void> {
  const message = batch.find((m) => m.resume);
  if (!message || !deps.interrupts) return;
  await deps.interrupts.resumed(message).catch((e: unknown) =>
    deps.log.error({ err: String(e), roomId: message.roomId }, "could not record that a paused run was resumed"));
}

async function remembered(deps: PipelineDeps, run: TurnRun, batch: TurnMessage[]): Promise<void> {
  if (!deps.onAnswered) return;
  try {
    await deps.onAnswered(batch, await run.answerEventIds());
  } catch (e) {
    deps.log.warn({ err: String(e), roomId: batch[0]?.roomId }, "could not remember an answer; a later edit or redaction of its question will not reach it");
  }
}
