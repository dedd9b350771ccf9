// The store's sweep: every `intervalMs`, expired entries (journal "done" markers, appservice transaction ids, sent
// outbox records, expired dead letters, old proactive runs: everything written with a ttl) are deleted, `batch`
// at a time, until none is left. keyv only drops an expired entry when the same key is read again, which for
// these never happens: without the sweep the store grows with every event the bot ever received.
// Each batch is one statement on the shared connection; the bot's own reads and writes go between batches.
import type { Logger } from "pino";
import type { Store } from "./store";

export interface SweepOptions {
  /** Time between sweeps (STORE_SWEEP_INTERVAL_MS). The first sweep runs one interval after start. */
  intervalMs: number;
  /** Entries deleted per statement (STORE_SWEEP_BATCH). */
  batch: number;
  log: Logger;
  /** After each sweep that deleted anything: how many, and how long it took. */
  onSwept?: (deleted: number, ms: number) => void;
}

export class StoreSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private stopped = false;

  constructor(private readonly store: Pick<Store, "deleteExpired">, private readonly opts: SweepOptions) {}

  start(): this {
    if (this.timer || this.stopped) return this;
    this.timer = setInterval(() => {
      // A sweep still running (a large backlog) is not started twice.
      if (!this.running) void this.sweep();
    }, this.opts.intervalMs);
    this.timer.unref();
    return this;
  }

  /**
   * Deletes every entry expired by now, batch by batch; resolves with how many. Never rejects: a failure is
   * logged and the next sweep tries again. Concurrent calls share one sweep.
   */
  sweep(): Promise<number> {
    this.running ??= this.sweepAll().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Ends the schedule and waits for a sweep in progress (it stops after its current batch). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private async sweepAll(): Promise<number> {
    const startedAt = Date.now();
    let deleted = 0;
    try {
      for (;;) {
        const n = await this.store.deleteExpired(this.opts.batch);
        deleted += n;
        if (n < this.opts.batch || this.stopped) break;
        await new Promise<void>((resolve) => setImmediate(resolve)); // the bot's own statements go between batches
      }
    } catch (error) {
      this.opts.log.warn({ err: error instanceof Error ? error.message : String(error), deleted }, "store sweep failed; retried at the next one");
    }
    const ms = Date.now() - startedAt;
    if (deleted > 0) {
      this.opts.log.debug({ deleted, ms }, "store sweep deleted expired entries");
      this.opts.onSwept?.(deleted, ms);
    }
    return deleted;
  }
}
