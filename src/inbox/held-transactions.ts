// Appservice mode with a standby (issue 30, runbook/scale-out.md): both bot processes answer the homeserver's
// transactions (a reverse proxy in front of both may send each one to either), and only the active processes them.
//   - The standby (holding): checks the hs_token like the active, stores each transaction durably in the inbox on the
//     shared server (inbox-store.ts), then answers 200. It processes nothing, sends nothing.
//   - The active: before each transaction of its own, and every `pollMs` meanwhile, it takes the held ones, oldest
//     first, a page at a time, through the path of its own (`replay`: deduplicated by transaction id, journaled in
//     one batch, deduplicated by event id), and removes them only after that. A crash in between leaves them held:
//     the next active replays them, and the journal drops the events it has seen.
//   - A standby that takes over starts with everything held (activate), before the transactions it gets from then on.
import type { Logger } from "pino";
import type { InboxStore } from "./inbox-store";

export interface HeldTransactionsOptions {
  store: InboxStore;
  log: Logger;
  /** How often the active looks for transactions the standby held. Default 200 ms. */
  pollMs?: number;
  /** How many held transactions are read at a time. Default 100. */
  pageSize?: number;
}

/**
 * Replays held transactions (oldest first) through the active's path in one batch: each "done" (durable now, or seen
 * before) or "invalid"; "refused" when they could not be made durable (they stay held and are tried again).
 */
export type Replay = (held: ReadonlyArray<{ txnId: string; body: unknown }>) => Promise<Array<"done" | "invalid"> | "refused">;

export class HeldTransactions {
  private replay: Replay | undefined;
  private draining: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private polling = false;
  private heldCount = 0;
  private replayedCount = 0;

  constructor(private readonly opts: HeldTransactionsOptions) {}

  /** True until activate(): transactions are stored for the active, not processed. */
  holding(): boolean {
    return this.replay === undefined;
  }

  /** Stores a transaction for the active (throws when the store could not: the transaction is then answered 500). */
  async hold(txnId: string, body: unknown): Promise<void> {
    await this.opts.store.add(txnId, JSON.stringify(body));
    this.heldCount += 1;
    this.opts.log.debug({ txnId }, "standby: transaction stored for the active");
  }

  /**
   * This process is active: everything held is replayed now (a failure is logged and tried again on the timer), and
   * from then on before each own transaction and every `pollMs`.
   */
  async activate(replay: Replay): Promise<void> {
    this.replay = replay;
    if (this.heldCount > 0) this.opts.log.info({ held: this.heldCount }, "standby: transactions held while standing by go to the journal now");
    this.timer = setInterval(() => {
      if (this.polling) return; // a slow store: one poll at a time, never a growing queue of them
      this.polling = true;
      void this.drainLogged().finally(() => {
        this.polling = false;
      });
    }, this.opts.pollMs ?? 200);
    this.timer.unref();
    await this.drainLogged();
  }

  /** Before an own transaction: the ones held before it go first (throws when they could not: refuse it, keep the order). */
  beforeOwn(): Promise<void> {
    return this.replay ? this.drain() : Promise.resolve();
  }

  /** Counts for logs and tests: stored as a standby, replayed as the active. */
  counts(): { held: number; replayed: number } {
    return { held: this.heldCount, replayed: this.replayedCount };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.draining.catch(() => undefined);
    await this.opts.store.close().catch(() => undefined);
  }

  private drainLogged(): Promise<void> {
    return this.drain().catch((error: unknown) =>
      this.opts.log.warn({ err: describe(error) }, "could not take the transactions a standby held; trying again"));
  }

  /** One drain at a time, in queue order; a drain asked for while one runs runs after it (it may miss a newer one). */
  private drain(): Promise<void> {
    const next = this.draining.catch(() => undefined).then(() => this.drainNow());
    this.draining = next;
    return next;
  }

  private async drainNow(): Promise<void> {
    const replay = this.replay;
    const pageSize = this.opts.pageSize ?? 100;
    while (replay && !this.stopped) {
      const page = await this.opts.store.list(pageSize);
      if (page.length === 0) return;
      const outcomes = await replay(page.map((held) => ({ txnId: held.txnId, body: parseOrUndefined(held.body) })));
      if (outcomes === "refused") throw new Error(`the transactions a standby held (from ${page[0]?.txnId ?? "?"}) could not be made durable yet`);
      page.forEach((held, i) => {
        if (outcomes[i] === "invalid") this.opts.log.warn({ txnId: held.txnId }, "a transaction a standby held is not valid; dropped");
        else this.replayedCount += 1;
      });
      await this.opts.store.remove(page.map((held) => held.id));
      if (page.length < pageSize) return;
    }
  }
}

function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
