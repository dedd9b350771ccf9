// Closed-loop turns through the homeserver double: Alice posts in each active room (a real event in the double,
// pushed to the appservice by the double's serial transaction stream, as Synapse does); when the reply PUT for
// that room reaches the double, she posts the next one. A turn's latency runs from the double starting the PUT
// of the transaction that carries her message to the double receiving the reply's PUT /send.
import type { Homeserver, RequestRecord } from "../../test/support/homeserver";

interface Outstanding {
  postedAt: number;
  pushedAt?: number;
}

export interface TurnRunResult {
  /** Transaction push → reply PUT, ms. */
  latencies: number[];
  /** Alice's post → reply PUT, ms (includes waiting for the serial transaction stream). */
  endToEnd: number[];
  turns: number;
  elapsedMs: number;
  /** Replies completed in each whole second of the run. */
  perSecond: number[];
  /** The subject's transactions: push → answer, ms (how long the appservice took to take a transaction in). */
  transactionAnswerMs: number[];
  /** Events per transaction pushed to the subject. */
  eventsPerTransaction: number[];
}

const SEND_MESSAGE = /^\/_matrix\/client\/[^/]+\/rooms\/([^/]+)\/send\/m\.room\.message\//;

export class TurnDriver {
  private readonly outstanding = new Map<string, Outstanding>();
  private running = false;
  private counter = 0;
  /** Turns left per room (turnsPerRoom runs). */
  private budget: Map<string, number> | undefined;
  /** The current run's rooms, and a counter that tells its posts from an earlier run's. */
  private active = new Set<string>();
  private generation = 0;
  private latencies: number[] = [];
  private endToEnd: number[] = [];
  private completions: number[] = [];
  private pushes = new Map<string, { at: number; events: number }>();
  private answerMs: number[] = [];
  private eventCounts: number[] = [];
  private drained: (() => void) | undefined;
  private readonly unobserve: () => void;

  constructor(private readonly hs: Homeserver, private readonly aliceId: string, private readonly subjectUserId: string,
    private readonly appserviceId: string) {
    this.unobserve = hs.observe({
      transactionAnswered: ({ appserviceId, txnId }, now) => {
        const push = appserviceId === this.appserviceId ? this.pushes.get(txnId) : undefined;
        if (!push) return;
        this.pushes.delete(txnId);
        this.answerMs.push(now - push.at);
        this.eventCounts.push(push.events);
      },
      transactionPush: ({ appserviceId, txnId, events }, now) => {
        if (appserviceId === this.appserviceId && !this.pushes.has(txnId)) this.pushes.set(txnId, { at: now, events: events.length });
        for (const e of events) {
          if (e.sender !== this.aliceId || e.type !== "m.room.message") continue;
          const o = this.outstanding.get(e.room_id);
          if (o && o.pushedAt === undefined) o.pushedAt = now;
        }
      },
      request: (record, now) => this.onRequest(record, now),
    });
  }

  private onRequest(record: RequestRecord, now: number): void {
    if (record.method !== "PUT") return;
    const roomId = SEND_MESSAGE.exec(record.path)?.[1];
    if (roomId === undefined) return;
    const o = this.outstanding.get(roomId);
    if (!o || record.userId !== undefined && record.userId !== this.subjectUserId) return;
    this.outstanding.delete(roomId);
    this.latencies.push(now - (o.pushedAt ?? o.postedAt));
    this.endToEnd.push(now - o.postedAt);
    this.completions.push(now);
    const generation = this.generation;
    setImmediate(() => this.post(roomId, generation));
  }

  private post(roomId: string, generation = this.generation): void {
    if (generation !== this.generation || !this.active.has(roomId)) return; // a late reply from an earlier run
    // With a budget, each room within its count.
    const left = this.budget === undefined ? Number.POSITIVE_INFINITY : (this.budget.get(roomId) ?? 0);
    if (!this.running || left <= 0) {
      if (this.outstanding.size === 0) this.drained?.();
      return;
    }
    this.budget?.set(roomId, left - 1);
    this.outstanding.set(roomId, { postedAt: performance.now() });
    this.hs.sendEvent(this.aliceId, roomId, "m.room.message", { msgtype: "m.text", body: `turn ${(this.counter += 1)}` });
  }

  /**
   * Keeps every room in `rooms` busy (one message in flight each) for `durationMs`, or until each room had
   * `turnsPerRoom` turns; then waits for the replies still due. Throws if they do not come within `drainMs`.
   */
  async run(rooms: readonly string[], opts: { durationMs?: number; turnsPerRoom?: number; drainMs?: number }): Promise<TurnRunResult> {
    this.latencies = [];
    this.endToEnd = [];
    this.completions = [];
    this.answerMs = [];
    this.eventCounts = [];
    this.generation += 1;
    this.active = new Set(rooms);
    this.budget = opts.turnsPerRoom === undefined ? undefined : new Map(rooms.map((r) => [r, opts.turnsPerRoom ?? 0]));
    const startedAt = performance.now();
    this.running = true;
    try {
      for (const roomId of rooms) this.post(roomId);
      if (this.budget === undefined) {
        await new Promise((r) => setTimeout(r, opts.durationMs ?? 5000));
        this.running = false;
      }
      await this.waitDrained(opts.drainMs ?? 120_000);
    } finally {
      this.running = false;
      this.budget = undefined;
    }
    const elapsedMs = (this.completions[this.completions.length - 1] ?? performance.now()) - startedAt;
    const perSecond: number[] = [];
    for (const at of this.completions) {
      const second = Math.floor((at - startedAt) / 1000);
      perSecond[second] = (perSecond[second] ?? 0) + 1;
    }
    return { latencies: this.latencies, endToEnd: this.endToEnd, turns: this.latencies.length, elapsedMs,
      perSecond: Array.from(perSecond, (n) => n ?? 0), transactionAnswerMs: this.answerMs, eventsPerTransaction: this.eventCounts };
  }

  private async waitDrained(timeoutMs: number): Promise<void> {
    if (this.outstanding.size === 0) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.drained = undefined;
        reject(new Error(`${this.outstanding.size} turn(s) still unanswered after ${timeoutMs} ms`));
      }, timeoutMs);
      this.drained = () => {
        clearTimeout(timer);
        this.drained = undefined;
        resolve();
      };
    });
  }

  close(): void {
    this.unobserve();
  }
}
