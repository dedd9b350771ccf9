// The durable outbox: every outgoing room message is recorded pending before it is sent, delivered in the
// background (bounded concurrency, fair between rooms and between replies and fan-out, in order within a room),
// marked sent once the homeserver accepted it, or kept as a dead letter (logged, counted, retryable).
// A crash anywhere leaves it pending, and recover() resends it with the same txnId: the homeserver dedupes.
// Write order: see outbox-store.ts. Counters: see ledger.ts. Scheduling: see fair-queue.ts.
import { normalizeMatrixError } from "../matrix/errors";
import type { SendResult } from "../matrix/sender";
import { checkedEntry } from "./entry-check";
import { FairQueue } from "./fair-queue";
import { OutboxLedger, type OutboxStats } from "./ledger";
import { resolveOutboxOptions, type OutboxOptions, type ResolvedOutboxOptions } from "./options";
import { OutboxStore } from "./outbox-store";
import { laneOf, outboxEntryInputSchema, parseEntries, type DeadLetter, type OutboxEntryInput, type OutboxOrigin, type OutboxRecord, type PendingEntry } from "./records";
import {
  deadResult, describeError, failureFields, inputOf, invalidEntryResult, OutboxStoppedError, OutboxStoreError,
  stoppedResult, unrecordedResult, Waiters, type Failure,
} from "./results";

export interface EnqueueOptions {
  /** Record the entries in groups (one store write per `storeBatchSize` entries, not two per entry): a fan-out chunk. */
  group?: boolean;
}

export class Outbox {
  private readonly durable: OutboxStore;
  private readonly queue: FairQueue;
  private readonly ledger: OutboxLedger;
  private readonly opts: ResolvedOutboxOptions;
  private readonly now: () => number;
  /** txnIds an enqueue/retry is writing right now (→ settles when it is done): nobody else admits them meanwhile. */
  private readonly reserved = new Map<string, Promise<void>>();
  /** txnIds delivered whose sent mark is being written (→ their event id): known as sent meanwhile. */
  private readonly marking = new Map<string, string>();
  private readonly waiters = new Waiters();
  private readonly inFlight = new Set<Promise<void>>();
  /** Of those, proactive fan-out sends (bounded by `proactiveConcurrency`). */
  private proactiveInFlight = 0;
  /** Dead-letter announcements on their way into the outbox (their entries are not pending yet). */
  private announcing = 0;
  private lastSeq = 0;
  private stopping = false;
  /** Set when the homeserver rejected our token: nothing more is sent; pending entries wait for the next start. */
  private halted: Failure | undefined;

  constructor(options: OutboxOptions) {
    const opts = (this.opts = resolveOutboxOptions(options));
    this.now = opts.now;
    this.durable = new OutboxStore(opts.store, {
      deadTtlMs: opts.deadLetterTtlMs, sentTtlMs: opts.sentTtlMs, batchSize: opts.storeBatchSize,
    }, opts.log);
    this.queue = new FairQueue(opts.interactiveBurst);
    this.ledger = new OutboxLedger(opts.deadLetterTtlMs, this.now);
  }

  /**
   * Durably records the entries (all committed before it resolves), then delivers them in the background.
   * Idempotent per txnId: an entry already pending, sent or dead is not added again. Rejects with
   * OutboxStoreError if the store failed (the entries written before the failure are delivered; enqueue
   * again: those are deduplicated), OutboxStoppedError after drain(), a ZodError for a malformed entry.
   */
  async enqueue(entries: OutboxEntryInput[], opts: EnqueueOptions = {}): Promise<void> {
    if (this.stopping) throw new OutboxStoppedError();
    await this.enqueueChecked(parseEntries(entries), opts.group === true);
  }

  /** enqueue() for entries already checked against the schema (send() checks its one entry itself). */
  private async enqueueChecked(parsed: OutboxEntryInput[], grouped = false): Promise<void> {
    if (this.stopping) throw new OutboxStoppedError();
    const batch = new Set<string>();
    const fresh = parsed.filter((e) => {
      const known = batch.has(e.txnId) || this.reserved.has(e.txnId) || this.ledger.isPending(e.txnId) || this.ledger.isDead(e.txnId)
        || this.marking.has(e.txnId);
      batch.add(e.txnId);
      return !known;
    });
    let release!: () => void;
    const written = new Promise<void>((resolve) => (release = resolve));
    for (const e of fresh) this.reserved.set(e.txnId, written);
    try {
      let records;
      try {
        records = await this.readRecords(fresh);
      } catch (error) {
        throw new OutboxStoreError(`outbox could not read the store: ${describeError(error)}`, { cause: error });
      }
      const toRecord: PendingEntry[] = [];
      fresh.forEach((entry, i) => {
        const record = records[i];
        if (record === undefined) toRecord.push({ entry, seq: this.nextSeq() });
        else if (record.status === "pending") this.admit({ entry: record.entry, seq: record.seq }); // from before a restart
        else if (record.status === "dead") this.ledger.addDead(entry.txnId, record.letter.roomId, record.letter.at);
      });
      const { recorded, error } = await this.durable.recordPending(toRecord, this.now(), grouped);
      for (const item of recorded) this.admit(item);
      if (error !== undefined) {
        this.opts.log.error({ err: describeError(error), recorded: recorded.length, of: toRecord.length }, "outbox could not record messages");
        throw new OutboxStoreError(`outbox could not record ${toRecord.length - recorded.length} message(s): ${describeError(error)}`, { cause: error });
      }
    } finally {
      for (const e of fresh) this.reserved.delete(e.txnId);
      release();
      this.pump();
    }
  }

  /** The records of these entries' txnIds; none is read for a txnId nothing can be recorded under (unrecorded.ts). */
  private async readRecords(entries: OutboxEntryInput[]): Promise<Array<OutboxRecord | undefined>> {
    const covered = entries.map((e) => this.opts.unrecorded.covers(e.txnId));
    if (!covered.includes(true)) return this.durable.read(entries.map((e) => e.txnId));
    const toRead = entries.filter((_, i) => !covered[i]).map((e) => e.txnId);
    const read = toRead.length > 0 ? await this.durable.read(toRead) : [];
    let next = 0;
    return covered.map((skip) => (skip ? undefined : read[next++]));
  }

  /**
   * Enqueues one entry and resolves with its outcome; never rejects (it stands in for sendEvent). If the store
   * cannot record it, the message is still sent, without a durable record (logged at error level).
   */
  async send(roomId: string, type: string, content: Record<string, unknown>, txnId: string, origin?: OutboxOrigin,
    asUser?: string): Promise<SendResult> {
    const entry: OutboxEntryInput = { roomId, type, content, txnId, ...(origin ? { origin } : {}), ...(asUser !== undefined ? { asUser } : {}) };
    const quick = checkedEntry(entry);
    const checked = quick ? { success: true as const, data: quick } : outboxEntryInputSchema.safeParse(entry);
    if (!checked.success) return invalidEntryResult(checked.error.issues.map((i) => i.message).join("; "));
    for (let other = this.reserved.get(txnId); other; other = this.reserved.get(txnId)) await other; // same txnId, concurrently
    if (this.stopping) return stoppedResult();
    const outcome = this.waiters.wait(txnId);
    try {
      await this.enqueueChecked([checked.data]);
    } catch (error) {
      if (error instanceof OutboxStoppedError) this.waiters.settle(txnId, stoppedResult());
      else if (!this.ledger.isPending(txnId) && !this.ledger.isDead(txnId)) {
        this.opts.log.error({ roomId, txnId, err: describeError(error) }, "outbox store unavailable: sending this message without a durable record");
        this.admit({ entry: checked.data, seq: this.nextSeq() });
        this.pump();
      }
    }
    if (this.halted) this.waiters.settle(txnId, this.halted);
    else if (!this.ledger.isPending(txnId)) await this.settleFromStore(txnId);
    return outcome;
  }

  /** Re-delivers every entry still pending in the store (call once at start); rebuilds the counters. */
  async recover(): Promise<number> {
    const state = await this.durable.recover(this.now());
    this.lastSeq = Math.max(this.lastSeq, state.maxSeq);
    for (const d of state.dead) if (!this.ledger.isPending(d.txnId)) this.ledger.addDead(d.txnId, d.roomId, d.at);
    let count = 0;
    for (const item of state.pending) {
      const { txnId } = item.entry;
      if (this.reserved.has(txnId) || this.ledger.isPending(txnId) || this.ledger.isDead(txnId)) continue;
      this.admit(item);
      count += 1;
    }
    this.opts.log.info({ pending: count, dead: state.dead.length }, "outbox recovered");
    this.pump();
    return count;
  }

  /**
   * Entries pending (queued, being sent or held), being recorded, or delivered with their sent mark being written, and
   * dead-letter announcements under way.
   */
  pendingCount(): number {
    let recording = 0;
    for (const txnId of this.reserved.keys()) if (!this.ledger.isPending(txnId)) recording += 1;
    return this.ledger.pendingSize + recording + this.marking.size + this.announcing;
  }

  /** Whether an entry with this txnId was recorded (pending, sent or dead), as the store says. */
  async isRecorded(txnId: string): Promise<boolean> {
    if (this.ledger.isPending(txnId) || this.ledger.isDead(txnId)) return true;
    const [record] = await this.durable.read([txnId]);
    return record !== undefined;
  }

  stats(roomId?: string): OutboxStats {
    return this.ledger.stats(roomId);
  }

  /** The dead letters kept (one room's or all), oldest first. */
  async deadLetters(roomId?: string): Promise<DeadLetter[]> {
    const txnIds = this.ledger.deadTxnIds(roomId);
    const found = await this.durable.readDead(txnIds);
    const letters: DeadLetter[] = [];
    found.forEach((d, i) => {
      if (d) letters.push(d.letter);
      else if (txnIds[i] !== undefined) this.ledger.removeDead(txnIds[i]);
    });
    return letters.sort((a, b) => a.at - b.at);
  }

  /** Re-queues dead letters (all, or one room's) in their original order. Returns how many. */
  async retryDead(roomId?: string): Promise<number> {
    if (this.stopping) throw new OutboxStoppedError();
    const found = await this.durable.readDead(this.ledger.deadTxnIds(roomId));
    const letters = found.flatMap((d) => (d ? [d] : [])).sort((a, b) => a.seq - b.seq);
    let count = 0;
    for (const { letter } of letters) {
      const { txnId } = letter;
      if (this.reserved.has(txnId) || this.ledger.isPending(txnId) || !this.ledger.isDead(txnId)) continue; // raced
      const item: PendingEntry = { entry: inputOf(letter), seq: this.nextSeq() };
      const requeue = this.durable.requeueDead(item, this.now());
      this.reserved.set(txnId, requeue.then(() => undefined, () => undefined));
      try {
        await requeue;
      } finally {
        this.reserved.delete(txnId);
      }
      this.ledger.removeDead(txnId);
      this.admit(item);
      count += 1;
    }
    this.opts.log.info({ roomId, count }, "outbox dead letters re-queued");
    this.pump();
    return count;
  }

  /** Turns a room's waiting entries into permanent dead letters (kicked, banned, left). Returns how many. */
  async failRoom(roomId: string, reason: string): Promise<number> {
    const items = this.queue.removeRoom(roomId);
    for (const item of items) {
      await this.toDeadLetter(item, { reason: `room unavailable: ${reason}`, permanent: true, attempts: 0, errorKind: "forbidden" });
    }
    return items.length;
  }

  /**
   * Stops taking new work: waiting entries stay pending for the next start (their send() callers get a
   * non-permanent failure). Resolves when the sends in flight finished, or at once with `abandon`.
   * It sets the stopping flag synchronously: call it before stopping the sender, so that a send cut short
   * is kept pending rather than turned into a dead letter.
   */
  async drain(opts: { abandon?: boolean } = {}): Promise<void> {
    this.stopping = true;
    for (const item of this.queue.removeAll()) this.waiters.settle(item.entry.txnId, stoppedResult());
    if (opts.abandon) return;
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private admit(item: PendingEntry): void {
    if (this.ledger.isPending(item.entry.txnId)) return;
    this.ledger.addPending(item);
    this.queue.push(item);
  }

  private nextSeq(): number {
    this.lastSeq = Math.max(this.lastSeq + 1, this.now() * 1000);
    return this.lastSeq;
  }

  private pump(): void {
    while (!this.stopping && !this.halted && this.inFlight.size < this.opts.concurrency) {
      const item = this.queue.take(this.proactiveInFlight < this.opts.proactiveConcurrency);
      if (!item) return;
      const proactive = laneOf(item.entry) === "proactive";
      if (proactive) this.proactiveInFlight += 1;
      const delivery: Promise<void> = this.deliver(item)
        .catch((error: unknown) => this.opts.log.error({ roomId: item.entry.roomId, txnId: item.entry.txnId, err: describeError(error) }, "outbox delivery failed unexpectedly"))
        .finally(() => {
          this.inFlight.delete(delivery);
          if (proactive) this.proactiveInFlight -= 1;
          this.queue.done(item.entry.roomId);
          this.pump();
        });
      this.inFlight.add(delivery);
    }
  }

  private async deliver(item: PendingEntry): Promise<void> {
    const { roomId, type, content, txnId, asUser } = item.entry;
    let result: SendResult;
    try {
      result = await this.opts.sender.sendEvent(roomId, type, content, txnId, asUser);
    } catch (error) {
      result = { ok: false, error: normalizeMatrixError(error, "send"), permanent: false, attempts: 1 };
    }
    if (result.ok) {
      // A reply's sender hears of it once its sent mark is issued, not committed, so that the mark shares the commit of
      // what the sender writes next (the run's end). A crash before that commit leaves the entry pending: it is resent
      // with the same txnId after the restart, and the homeserver dedupes it (see outbox-store.ts). It counts as sent
      // (stats) once its mark is written. A fan-out member (group) has nobody waiting: it is settled after its mark.
      const marked = this.durable.markSent(item, result.eventId, this.now());
      const early = item.group === undefined;
      if (early) {
        this.marking.set(txnId, result.eventId);
        this.ledger.removePending(txnId);
        this.waiters.settle(txnId, result);
      }
      try {
        await marked;
      } catch (error) {
        this.opts.log.error({ roomId, txnId, err: describeError(error) },
          "outbox: message delivered but not marked sent; after a restart it is resent with the same txnId (deduplicated)");
      } finally {
        this.marking.delete(txnId);
      }
      this.ledger.removePending(txnId);
      this.ledger.addSent(roomId);
      this.waiters.settle(txnId, result);
    } else if (result.error.kind === "unknown_token") {
      this.halt(result); // stays pending (in the store too) for the next start with a valid token
    } else if (this.stopping && !result.permanent) {
      this.opts.log.warn({ roomId, txnId, error: result.error.describe() }, "outbox stopping: message left pending for the next start");
      this.waiters.settle(txnId, result);
    } else if (item.entry.origin?.kind === "live") {
      await this.dropLive(item, result);
    } else {
      await this.toDeadLetter(item, failureFields(result));
    }
  }

  /** A failed intermediate edit of a live answer: done without being sent (the final edit carries the text). */
  private async dropLive(item: PendingEntry, result: Failure): Promise<void> {
    const { roomId, txnId } = item.entry;
    await this.durable.markSent(item, "", this.now()).catch((error: unknown) =>
      this.opts.log.warn({ roomId, txnId, err: describeError(error) }, "outbox: a dropped live edit could not be marked done"));
    this.ledger.removePending(txnId);
    this.opts.log.warn({ roomId, txnId, error: result.error.describe() }, "outbox: a live edit was not delivered; dropped");
    this.waiters.settle(txnId, result);
  }

  private async toDeadLetter(item: PendingEntry, failure: Omit<DeadLetter, keyof OutboxEntryInput | "at">): Promise<void> {
    const letter: DeadLetter = { ...item.entry, ...failure, at: this.now() };
    const { roomId, txnId } = item.entry;
    try {
      await this.durable.markDead(letter, item);
    } catch (error) {
      this.opts.log.error({ roomId, txnId, err: describeError(error) }, "outbox could not record a dead letter; it stays pending and is retried after a restart");
    }
    this.ledger.removePending(txnId);
    this.ledger.addDead(txnId, roomId, letter.at);
    this.opts.log.error({ roomId, txnId, reason: letter.reason, permanent: letter.permanent, attempts: letter.attempts,
      origin: item.entry.origin?.kind }, "outbox: message not delivered (dead letter)");
    this.waiters.settle(txnId, deadResult(letter));
    void this.announce(letter);
  }

  private async announce(letter: DeadLetter): Promise<void> {
    this.announcing += 1;
    try {
      await this.opts.onDeadLetter?.(letter);
    } catch (error) {
      this.opts.log.warn({ roomId: letter.roomId, txnId: letter.txnId, err: describeError(error) }, "outbox dead-letter hook failed");
    } finally {
      this.announcing -= 1;
    }
  }

  private halt(result: Failure): void {
    if (!this.halted) {
      this.halted = result;
      this.opts.log.error({ pending: this.ledger.stats().pending },
        "outbox halted: the homeserver rejected the access token; pending messages stay recorded for the next start");
    }
    this.waiters.settleAll(result);
  }

  private async settleFromStore(txnId: string): Promise<void> {
    const sent = this.marking.get(txnId);
    if (sent !== undefined) return this.waiters.settle(txnId, { ok: true, eventId: sent, attempts: 0 });
    try {
      const [record] = await this.durable.read([txnId]);
      if (record?.status === "sent") this.waiters.settle(txnId, { ok: true, eventId: record.eventId, attempts: 0 });
      else if (record?.status === "dead") this.waiters.settle(txnId, deadResult(record.letter));
      else if (!this.ledger.isPending(txnId)) this.waiters.settle(txnId, unrecordedResult());
    } catch {
      this.waiters.settle(txnId, unrecordedResult());
    }
  }
}
