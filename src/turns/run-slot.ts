// A run's slot at the agent (run-limiter.ts): a run beyond AGENT_MAX_CONCURRENT_RUNS or AGENT_MAX_RUNS_PER_USER
// waits its turn, and a user who starts waiting is told once.
import { FAILURE_TEXTS } from "./failure-text";
import type { PipelineDeps } from "./pipeline-deps";
import type { RunLimiter } from "./run-limiter";
import { TurnRun, type TurnMessage } from "./turn-run";

/**
 * Waits for a run slot (run-limiter.ts), telling the user once when they start waiting. Resolves to the slot's
 * release; a run stopped while it waited goes on without one (the agent is not asked; the user is told "Stopped").
 */
export async function waitForSlot(limiter: RunLimiter, deps: PipelineDeps, run: TurnRun, batch: TurnMessage[]): Promise<() => void> {
  const last = batch[batch.length - 1];
  if (!last) return () => undefined;
  const mustWait = limiter.mustWait(last.sender);
  const firstWait = mustWait && limiter.waitingFor(last.sender) === 0;
  if (mustWait) {
    deps.log.info({ roomId: last.roomId, threadKey: last.threadKey, inFlight: limiter.inFlight },
      "agent run waits for a free slot (AGENT_MAX_CONCURRENT_RUNS / AGENT_MAX_RUNS_PER_USER)");
  }
  const slot = limiter.acquire(last.sender, run.signal);
  if (firstWait) {
    await TurnRun.notify(deps, last, FAILURE_TEXTS.waiting, "waiting")
      .catch((e: unknown) => deps.log.warn({ roomId: last.roomId, err: String(e) }, "could not say that a run waits for a free slot"));
  }
  return (await slot) ?? ((): void => undefined);
}
