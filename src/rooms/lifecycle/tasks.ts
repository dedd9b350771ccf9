// Background work of the lifecycle (space reconciliation, provisioning): started without blocking the caller,
// failures logged (never an unhandled rejection), and awaited by stop(). `signal` aborts waits on stop.
import type { Logger } from "pino";
import { LifecycleStoppedError } from "./matrix-rooms";

export class BackgroundTasks {
  private readonly running = new Set<Promise<void>>();
  private readonly aborter = new AbortController();

  constructor(private readonly log: Logger) {}

  get signal(): AbortSignal {
    return this.aborter.signal;
  }

  /** Tasks running now. */
  get size(): number {
    return this.running.size;
  }

  get stopping(): boolean {
    return this.aborter.signal.aborted;
  }

  /** Starts `work` in the background; its failure is logged with `what`. */
  run(what: string, fields: Record<string, unknown>, work: () => Promise<void>): void {
    if (this.stopping) return;
    const done: Promise<void> = Promise.resolve()
      .then(work)
      .catch((e: unknown) => {
        if (e instanceof LifecycleStoppedError) return;
        this.log.warn({ ...fields, err: describe(e) }, `${what} failed`);
      })
      .finally(() => this.running.delete(done));
    this.running.add(done);
  }

  /** Resolves when every task started so far (and those they started) finished. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  async stop(): Promise<void> {
    this.aborter.abort();
    await this.idle();
  }
}

export function describe(e: unknown): string {
  if (e && typeof e === "object" && "describe" in e && typeof (e as { describe: unknown }).describe === "function") {
    return String((e as { describe: () => string }).describe());
  }
  return e instanceof Error ? e.message : String(e);
}
