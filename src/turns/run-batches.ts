// Which turns each run answers, kept in the store from before the run sends anything until its turns are settled.
// A run's txnIds derive from its runId (turn-run.ts), and its runId from its batch: after a crash (or a standby's
// takeover) recovery must run exactly that batch again under the same runId, so that the homeserver drops what it
// already took (same txnIds). Turns in no recorded batch are batched anew as usual.
//
// One record per thread (a thread runs one batch at a time), keyed by its room and thread key: written when a run starts,
// replaced by the thread's next run, deleted when the thread goes idle (one write per run, one more per idle thread).
// A run cut short by shutdown keeps its record: its turns stay pending and run again, as they were, at the next start.
// At recovery the records are read once; turns of a record already settled are left out, records with none left go.
// A recovered turn waits (in its thread's queue) until the rest of its batch is routed too, in the version the run had
// (an edit made before the run started); the router routes a room's recovered events before any later one, so the
// batch runs again before any new run of its thread could replace its record. Once the room's recovered events are
// all routed, a batch still incomplete (a turn that is no turn any more) runs with what came.
// A batch whose turns were being marked handled (settled by its run: the journal's done entry names the run) is not
// run again: its answer is out, and run with the rest alone it would edit that answer into one for the rest only; its
// other turns are marked handled. An edit or a redaction of its questions does not cancel a batch run again
// (TurnRunOptions.recovered): it is handled once the run has answered.
import type Keyv from "keyv";
import type { Logger } from "pino";
import { z } from "zod";
import type { NextBatch } from "./change-rerun";
import { journalIdsOf, type TurnMessage } from "./turn-run";

const RecordSchema = z.object({
  roomId: z.string(),
  runId: z.string(),
  /** The batch's questions in order: the event people see, and the journal entry carrying the text the run had. */
  turns: z.array(z.object({ eventId: z.string(), key: z.string() })).min(1),
  /** The earlier answer's messages the run edits into its own (a run again after an edit). */
  takeOver: z.array(z.string()).optional(),
});
type RunRecord = z.infer<typeof RecordSchema>;

export interface RunBatchStores {
  records: Keyv<unknown>;
  /** Lists the records (key, value). */
  list(): AsyncIterable<[string, unknown]>;
  /** Whether a journal entry is done (its turn settled), and the run whose answer settled it, if one did. */
  doneState(roomId: string, key: string): Promise<{ done: boolean; by?: string }>;
  /** Marks a journal entry done, settled by run `by`. */
  complete(roomId: string, key: string, by: string): Promise<void>;
  /**
   * The store applies writes in issue order (Store.writesInIssueOrder): a write issued after the run's record (the
   * outbox record before each send) never becomes durable without it (see `record`).
   */
  writesInIssueOrder?: boolean;
}

/** A run's record being written (RunBatches.record). */
export interface RecordWrite {
  /** The run may start: the record is durable, or (on a store that applies writes in issue order) asked of the store. */
  begin: Promise<void>;
  /**
   * The record is durable (or its write failed, logged): what a send that writes nothing before it waits for. A
   * deferred record's write is issued by `issue()` first.
   */
  durable: Promise<void>;
  /**
   * Issues the write of a deferred record (none if it is issued already) and resolves once it is asked of the store: on
   * a store that applies writes in issue order, a write issued after that (the outbox record before a send) commits
   * with it or after it, never without it.
   */
  issue(): Promise<void>;
}

const NONE: RecordWrite = { begin: Promise.resolve(), durable: Promise.resolve(), issue: () => Promise.resolve() };

/** A recorded batch found at recovery, not run again yet: the turns of it still pending. */
interface Recovered {
  record: RunRecord;
  /** Event id → the journal key the run had for it, for the turns not settled. */
  expected: Map<string, string>;
  /** The room's recovered events are all routed: it runs with what came. */
  released: boolean;
}

export class RunBatches {
  /** Per thread, the record writes in issue order (a pool may reorder concurrent writes of one key). */
  private readonly writes = new Map<string, Promise<{ err: string } | undefined>>();
  /** Recovered batches by `roomId|eventId` of each of their pending turns. */
  private readonly recovered = new Map<string, Recovered>();

  constructor(private readonly stores: RunBatchStores, private readonly log: Logger) {}

  /** Records the batch a run of `threadKey` answers, before it starts. Never throws: a failed write is logged. */
  async started(threadKey: string, batch: TurnMessage[], runId: string, takeOver: string[] | undefined): Promise<void> {
    await this.record(threadKey, batch, runId, takeOver).durable;
  }

  /**
   * `started`, for a run that starts before its record's commit where the store allows it (begin): on a store that
   * applies writes in issue order the run's outbox records (written before each send) come after the record, so only
   * a send that writes nothing first (a read receipt) waits for `durable`. Elsewhere the run begins once it is durable.
   * `deferred` (only on a store that applies writes in issue order): the record is written only when the run first
   * sends (`issue()`, record-gate.ts), in the commit of that send's outbox record, not in a commit of its own before the
   * agent is asked: for the plain first run of a fresh message (record-gate.ts `mayDeferRecord`), whose run id is its
   * event's. Until the run sends, a crash leaves no record, and nothing under the run's txnIds: its message, pending in
   * the journal, is answered anew. A live message writes it before its own record, which comes before its send
   * (TurnRun `beforeLiveRecord`).
   */
  record(threadKey: string, batch: TurnMessage[], runId: string, takeOver: string[] | undefined, deferred = false): RecordWrite {
    const first = batch[0];
    if (!first || batch.some((m) => m.resume)) return NONE; // a resume run's runId is the paused run's already
    const record: RunRecord = { roomId: first.roomId, runId,
      turns: batch.map((m) => ({ eventId: m.eventId, key: journalIdsOf(m)[0] ?? m.eventId })),
      ...(takeOver && takeOver.length > 0 ? { takeOver } : {}) };
    let issued!: () => void;
    const asked = new Promise<void>((resolve) => (issued = resolve));
    let wrote!: () => void;
    const durable = new Promise<void>((resolve) => (wrote = resolve)); // also when the write failed (logged)
    let writing: Promise<void> | undefined;
    /** Asked of the store, or over (a write that failed before it was asked must not hold a send back). */
    const askedOrOver = (): Promise<void> => Promise.race([asked, durable]);
    const issue = (): Promise<void> => {
      writing ??= this.write(threadKey, () => this.stores.records.set(recordKey(first.roomId, threadKey), record), issued).then((failed) => {
        if (failed) this.log.error({ err: failed.err, roomId: first.roomId, runId }, "could not record which turns a run answers; after a crash they may be answered twice");
        wrote();
      });
      return askedOrOver();
    };
    const inOrder = this.stores.writesInIssueOrder === true;
    // Deferred only behind no write of the thread's: once issued, the record is asked of the store a microtask later.
    if (deferred && inOrder && !this.writes.has(threadKey)) return { begin: Promise.resolve(), durable, issue };
    void issue();
    return { begin: inOrder ? askedOrOver() : durable, durable, issue: askedOrOver };
  }

  /** The thread is idle (its turns settled): its record goes. Never rejects. */
  async finished(roomId: string, threadKey: string): Promise<void> {
    const failed = await this.write(threadKey, () => this.stores.records.delete(recordKey(roomId, threadKey)));
    if (failed) this.log.warn({ err: failed.err, threadKey }, "could not delete the record of a finished run");
  }

  /**
   * Runs a write of the thread's record after the earlier ones (`issued` once it is asked of the store); resolves to
   * the failure, if it failed.
   */
  private async write(threadKey: string, op: () => Promise<unknown>, issued?: () => void): Promise<{ err: string } | undefined> {
    const start = (): Promise<unknown> => {
      const writing = op();
      issued?.();
      return writing;
    };
    const next = (this.writes.get(threadKey) ?? Promise.resolve(undefined)).then(start).then(() => undefined, (e: unknown) => ({ err: String(e) }));
    this.writes.set(threadKey, next);
    const failed = await next;
    if (this.writes.get(threadKey) === next) this.writes.delete(threadKey);
    return failed;
  }

  /** Reads the records a crash left (before the journal's turns are routed again). Returns how many run again. */
  async load(): Promise<number> {
    let count = 0;
    for await (const [threadKey, value] of this.stores.list()) {
      const parsed = RecordSchema.safeParse(value);
      const expected = new Map<string, string>();
      let answered = false; // one of its turns was settled by this run's answer: the run went its course
      if (parsed.success) {
        for (const turn of parsed.data.turns) {
          const state = await this.stores.doneState(parsed.data.roomId, turn.key);
          if (state.by === parsed.data.runId) answered = true;
          else if (!state.done) expected.set(turn.eventId, turn.key);
        }
      } else this.log.warn({ threadKey }, "unreadable record of a run's turns dropped");
      if (parsed.success && answered && expected.size > 0) {
        // Killed while its turns were being marked handled: the answer is out, the rest of them are handled too.
        for (const key of expected.values()) await this.stores.complete(parsed.data.roomId, key, parsed.data.runId);
        this.log.info({ roomId: parsed.data.roomId, runId: parsed.data.runId, turns: expected.size },
          "a run that had answered was stopped while marking its turns handled: the rest are marked handled, not answered again");
        expected.clear();
      }
      if (!parsed.success || expected.size === 0) {
        await this.stores.records.delete(threadKey);
        continue;
      }
      const entry: Recovered = { record: parsed.data, expected, released: false };
      for (const eventId of expected.keys()) this.recovered.set(`${parsed.data.roomId}|${eventId}`, entry);
      count += 1;
    }
    if (count > 0) this.log.info({ runs: count }, "runs cut short will run again with the turns they had");
    return count;
  }

  /** Whether `message` belongs to a recovered batch not run again yet (it waits for the rest of its batch). */
  isRecorded(message: TurnMessage): boolean {
    return this.recovered.has(`${message.roomId}|${message.eventId}`);
  }

  /** A recovered message was dropped while it waited (redacted): its batch runs without it. */
  dropped(message: TurnMessage): void {
    const key = `${message.roomId}|${message.eventId}`;
    this.recovered.get(key)?.expected.delete(message.eventId);
    this.recovered.delete(key);
  }

  /**
   * The room's recovered events are all routed: its recovered batches run with the turns that came (`waiting` tells
   * whether a turn waits in the pipeline); those with none go.
   */
  release(roomId: string, waiting: (eventId: string) => boolean): void {
    for (const entry of new Set(this.recovered.values())) {
      if (entry.record.roomId !== roomId) continue;
      entry.released = true;
      if (![...entry.expected.keys()].some(waiting)) this.forget(entry);
    }
  }

  /**
   * A thread's next batch. Its first waiting turn in a recovered batch: that batch as recorded, once all of it is there
   * ("wait" before); else the usual batch (what waits up to an answer given again, which runs alone), which stops
   * before a turn of a recovered batch.
   */
  next(queue: TurnMessage[]): NextBatch | undefined {
    const head = queue[0];
    if (head === undefined) return undefined;
    const entry = this.recovered.get(`${head.roomId}|${head.eventId}`);
    if (entry) return this.take(queue, entry);
    return usualBatch(queue, (m) => this.isRecorded(m));
  }

  private take(queue: TurnMessage[], entry: Recovered): NextBatch | undefined {
    const { roomId, runId, takeOver } = entry.record;
    const ofIt = (m: TurnMessage): boolean => m.roomId === roomId && entry.expected.has(m.eventId);
    const there = queue.filter(ofIt);
    const asRecorded = there.filter((m) => (journalIdsOf(m)[0] ?? m.eventId) === entry.expected.get(m.eventId));
    if (!entry.released && asRecorded.length < entry.expected.size) return undefined; // the rest of it is on its way
    this.forget(entry);
    const batch = there.slice();
    for (let i = queue.length - 1; i >= 0; i--) if (ofIt(queue[i] as TurnMessage)) queue.splice(i, 1);
    this.log.info({ roomId, runId, turns: batch.length }, "a run cut short runs again with the turns it had");
    return { batch, opts: { runId, recovered: true, ...(takeOver ? { takeOver } : {}) } };
  }

  private forget(entry: Recovered): void {
    for (const eventId of entry.expected.keys()) this.recovered.delete(`${entry.record.roomId}|${eventId}`);
  }
}

/** A thread's record: its room (so that the store's rows say which room they belong to) and its thread key. */
function recordKey(roomId: string, threadKey: string): string {
  return `${roomId}|${threadKey}`;
}

/**
 * The usual next batch of a thread's queue: what waits up to an answer given again (which runs alone), and not beyond
 * a turn of a recovered batch (`recorded`).
 */
export function usualBatch(queue: TurnMessage[], recorded: (m: TurnMessage) => boolean = () => false): NextBatch | undefined {
  const first = queue.findIndex(recorded);
  const end = first >= 0 ? first : queue.length;
  const alone = queue.slice(0, end).findIndex((m) => m.replaces === true);
  const batch = queue.splice(0, alone === 0 ? 1 : alone > 0 ? alone : end);
  return batch.length > 0 ? { batch, opts: {} } : undefined;
}
