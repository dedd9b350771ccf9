// Shared helpers for the outbox tests: a real sqlite store in a temp dir (optionally behind the fault injector),
// a fake sender that records what it was asked to send, and a capturing logger.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import pino, { type Logger } from "pino";
import { MatrixRequestError, type MatrixFailureKind } from "../../../src/matrix/errors";
import type { SendResult } from "../../../src/matrix/sender";
import { Outbox, type OutboxEntryInput, type OutboxOptions } from "../../../src/outbox";
import { openStore, type Store } from "../../../src/store";
import { FaultyStoreAdapter } from "../../support/faulty-store";
import { LogCapture } from "../../support/log-capture";
import { waitFor } from "../../support/wait";

export { expectSteady } from "../../support/wait";

export interface SendCall {
  roomId: string;
  type: string;
  content: Record<string, unknown>;
  txnId: string;
  /** The appservice user it was sent as (absent: the bot). */
  asUser?: string;
}

export type SendBehaviour = (call: SendCall, index: number) => SendResult | Promise<SendResult>;

export const accepted = (call: SendCall): SendResult => ({ ok: true, eventId: `$ev-${call.txnId}`, attempts: 1 });

export function failed(kind: MatrixFailureKind, status: number | undefined, permanent: boolean, attempts = 1): SendResult {
  const errcode = kind === "forbidden" ? "M_FORBIDDEN" : kind === "unknown_token" ? "M_UNKNOWN_TOKEN" : undefined;
  return { ok: false, error: new MatrixRequestError(kind, status, errcode, `send: ${kind}`, undefined), permanent, attempts };
}

/** Records every call; tracks how many sends are in flight at once. */
export class FakeSender {
  readonly calls: SendCall[] = [];
  inFlight = 0;
  maxInFlight = 0;

  constructor(public behaviour: SendBehaviour = accepted, private readonly delayMs = 0) {}

  async sendEvent(roomId: string, type: string, content: Record<string, unknown>, txnId: string, asUser?: string): Promise<SendResult> {
    const call = { roomId, type, content, txnId, ...(asUser !== undefined ? { asUser } : {}) };
    const index = this.calls.push(call) - 1;
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.delayMs > 0) await pause(this.delayMs);
      return await this.behaviour(call, index);
    } finally {
      this.inFlight -= 1;
    }
  }

  txnIds(): string[] {
    return this.calls.map((c) => c.txnId);
  }
}

/** A slow sender's latency (stimulus). Tests never assert after it: they wait on a condition (waitUntil, idle). */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until `condition` holds (deadline: DEFAULT_WAIT_MS or `timeoutMs`, scaled by TEST_TIME_SCALE). */
export async function waitUntil(condition: () => boolean, what: string, timeoutMs?: number): Promise<void> {
  await waitFor(condition, { what, intervalMs: 2, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
}

/** Waits until the outbox has nothing pending, being recorded or being announced. */
export function outboxIdle(outbox: Outbox): Promise<void> {
  return waitUntil(() => outbox.pendingCount() === 0, "the outbox idle");
}

export function entry(roomId: string, txnId: string, extra: Partial<OutboxEntryInput> = {}): OutboxEntryInput {
  return { roomId, type: "m.room.message", content: { msgtype: "m.text", body: `secret body of ${txnId}` }, txnId, ...extra };
}

/** A temp dir holding one sqlite file; open it as often as a test restarts the "bot". */
export class TestStores {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "mab-outbox-"));
  readonly url = `sqlite://${path.join(this.dir, "bot.sqlite")}`;
  private readonly opened: Store[] = [];
  private readonly outboxes: Outbox[] = [];
  readonly logs = new LogCapture();
  readonly log: Logger = pino({ level: "debug" }, this.logs);

  /**
   * `synchronous: "normal"` (no fsync per commit; what a process crash cannot lose is the same) for tests about
   * scheduling with many writes, which are not about power loss: fsync time on a busy shared disk is not theirs.
   */
  async open(faulty?: (adapter: FaultyStoreAdapter) => void, opts: { synchronous?: "normal" | "full" } = {}): Promise<Store> {
    const store = await openStore(this.url, {
      logger: pino({ level: "silent" }),
      ...(opts.synchronous ? { sqliteSynchronous: opts.synchronous } : {}),
      ...(faulty ? { wrapAdapter: (a) => { const f = new FaultyStoreAdapter(a); faulty(f); return f; } } : {}),
    });
    this.opened.push(store);
    return store;
  }

  outbox(store: Store, sender: FakeSender, opts: Partial<OutboxOptions> = {}): Outbox {
    const outbox = new Outbox({ store, sender, log: this.log, concurrency: 4, ...opts });
    this.outboxes.push(outbox);
    return outbox;
  }

  async cleanup(): Promise<void> {
    // A test that "crashed" an outbox left sends hanging forever: wait for in-flight sends, but not forever.
    for (const outbox of this.outboxes.splice(0)) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([outbox.drain(), new Promise((resolve) => (timer = setTimeout(resolve, 200)))]);
      clearTimeout(timer);
    }
    await Promise.all(this.opened.splice(0).map((s) => s.close().catch(() => undefined)));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
