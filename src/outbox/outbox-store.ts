// The outbox's durable state in four keyv namespaces:
//   "outbox"          txnId → record: pending (the entry), sent (event id only, kept `sentTtlMs` to dedupe a
//                     late re-enqueue), dead (the dead letter, kept `deadTtlMs`).
//   "outbox-pending"  index txnId → { roomId, seq } of every pending record, only on a store that cannot list the
//                     records without expiry (Store.openLister): elsewhere a pending record (no ttl) is listed by
//                     itself and its sent or dead record (with a ttl) ends that, in one write each; the index is then
//                     only read at recovery (entries an earlier version wrote) and those entries removed once done.
//   "outbox-dead"     index txnId → { roomId, at } of every dead letter: recovery rebuilds the per-room counters
//                     from it, so /status and metrics never scan the store. Kept as long as the letter.
//   "outbox-groups"   random id → entries recorded together (a fan-out chunk: `enqueue(…, { group: true })`) in
//                     one write instead of an index entry and a record each. A member has no record of its own while
//                     it is pending; once done it gets its sent (or dead) record like any entry, and the group is
//                     deleted after its last member's record is written. Recovery lists the groups and reads their
//                     members' records: a member with none is pending; a group with no member pending is deleted.
//                     Writes per fanned-out room: 1 (its sent record) plus 2 per group, instead of 4.
//
// keyv has no multi-key transaction, so the write order carries the guarantees (a crash may fall between any two;
// without the pending index, the steps that write it are one write less):
//   record pending: pending index first, then the record. Crash between: an index entry without a record, dropped
//                   at recovery; the caller was not answered yet, so it enqueues again.
//   mark sent:      record → sent first, then the index entry removed. Crash before the record write (after the
//                   homeserver accepted): the entry is still pending and is resent with the same txnId, which the
//                   homeserver deduplicates. Crash between: recovery finds "sent" behind the index and cleans it.
//                   The sender is told of the delivery once the mark is issued, not committed (outbox.ts deliver), so
//                   that the mark shares the commit of what it writes next: the same crash case, a little wider.
//   mark dead:      record → dead, then the dead index, then the pending index removed. Crash between any two:
//                   recovery finds "dead" behind the pending index, (re)writes the dead index and cleans up.
//   requeue dead:   pending index, then record → pending, then the dead index removed. Crash after the first write:
//                   the letter stays dead (retry again); after the second: recovery drops the stale dead index.
//   group:          the group (one write) before any member is sent; a member's sent (dead) record before the group
//                   is deleted, and the group deleted only once every member's record is durable. Crash before a
//                   member's record: it is still pending in its group and resent with the same txnId.
//                   Enqueued again before recovery ran (an agent replaying the run at start): the members have no
//                   records, so a second group is written; the txnIds keep it exactly once (one is admitted per
//                   txnId), and the group left over is deleted at the next recovery.
//
// Some adapters' iterators page by OFFSET (@keyv/postgres; ours for sqlite pages by key), so deleting index keys
// while one is being listed could skip entries: deletions requested during a listing wait until it ends.
import { randomUUID } from "node:crypto";
import type Keyv from "keyv";
import type { Logger } from "pino";
import type { z } from "zod";
import type { Store } from "../store";
import {
  deadIndexSchema, outboxRecordSchema, pendingGroupSchema, pendingIndexSchema,
  type DeadIndexValue, type DeadLetter, type OutboxRecord, type PendingEntry, type PendingGroupValue, type PendingIndexValue,
} from "./records";

export const OUTBOX_NAMESPACES = { records: "outbox", pending: "outbox-pending", dead: "outbox-dead", groups: "outbox-groups" } as const;

export interface OutboxStoreOptions {
  /** How long a "sent" marker stays, so a late re-enqueue of the same txnId is not sent again. */
  sentTtlMs: number;
  /** How long a dead letter stays for /status and `/outbox retry`. */
  deadTtlMs: number;
  /** How many keys one read or one batch of writes touches. */
  batchSize: number;
}

export interface DeadRef extends DeadIndexValue {
  txnId: string;
}

export interface RecoveredState {
  /** Pending entries, oldest first. */
  pending: PendingEntry[];
  dead: DeadRef[];
  /** The highest seq seen (pending or dead), so new seqs stay above it whatever the clock did. */
  maxSeq: number;
}

type IndexName = "pending" | "dead" | "groups";

export class OutboxStore {
  private readonly records: Keyv<unknown>;
  private readonly indexes: Record<IndexName, Keyv<unknown>>;
  private listings = 0;
  /** Store.writesInIssueOrder: a write that must follow another is issued right behind it, not after its commit. */
  private readonly inOrder: boolean;
  private readonly deferred: Record<IndexName, Set<string>> = { pending: new Set(), dead: new Set(), groups: new Set() };
  /** Group id → its members not done yet (sent or dead record not written). */
  private readonly groupLeft = new Map<string, number>();
  /** The pending records, listed by themselves (Store.openLister); undefined: the pending index is written. */
  private readonly openRecords: (() => AsyncIterable<[string, unknown]>) | undefined;
  /** TxnIds with a pending index entry of an earlier version (found at recovery, openRecords set): removed once done. */
  private readonly legacyPending = new Set<string>();

  constructor(store: Store, private readonly opts: OutboxStoreOptions, private readonly log: Logger) {
    this.inOrder = store.writesInIssueOrder;
    this.records = store.namespace<unknown>(OUTBOX_NAMESPACES.records);
    this.indexes = {
      pending: store.namespace<unknown>(OUTBOX_NAMESPACES.pending),
      dead: store.namespace<unknown>(OUTBOX_NAMESPACES.dead),
      groups: store.namespace<unknown>(OUTBOX_NAMESPACES.groups),
    };
    this.openRecords = store.openLister<unknown>(OUTBOX_NAMESPACES.records);
  }

  /** Reads the records of these txnIds (undefined: none, expired or unreadable). Throws if the store fails. */
  async read(txnIds: string[]): Promise<Array<OutboxRecord | undefined>> {
    const out: Array<OutboxRecord | undefined> = [];
    for (const chunk of chunks(txnIds, this.opts.batchSize)) {
      const raw = await this.records.getMany(chunk);
      chunk.forEach((txnId, i) => out.push(this.parseRecord(txnId, raw[i])));
    }
    return out;
  }

  /**
   * Records entries as pending (index first, then records; see the header). Returns the entries whose record
   * was written; `error` is the first store failure, if any (the others may still have been written).
   */
  async recordPending(items: PendingEntry[], now: number, grouped = false): Promise<{ recorded: PendingEntry[]; error?: unknown }> {
    if (grouped) return this.recordGroups(items, now);
    const recorded: PendingEntry[] = [];
    for (const chunk of chunks(items, this.opts.batchSize)) {
      const indexed = this.openRecords ? Promise.resolve([]) : Promise.all(chunk.map((p) => this.setIndexKey("pending", p.entry.txnId, indexValue(p))));
      indexed.catch(() => undefined); // awaited below
      if (!this.inOrder) {
        try {
          await indexed;
        } catch (error) {
          return { recorded, error };
        }
      }
      const recordsWritten = Promise.allSettled(chunk.map((p) =>
        this.records.set(p.entry.txnId, { status: "pending", entry: p.entry, seq: p.seq, enqueuedAt: now })));
      try {
        await indexed;
      } catch (error) {
        await recordsWritten;
        return { recorded, error };
      }
      const writes = await recordsWritten;
      const failed = writes.find((w): w is PromiseRejectedResult => w.status === "rejected");
      chunk.forEach((p, i) => {
        if (writes[i]?.status === "fulfilled") recorded.push(p);
      });
      if (failed) return { recorded, error: failed.reason };
    }
    return { recorded };
  }

  /** Records each `batchSize` items as one group (one write each, all issued at once); see the header. */
  private async recordGroups(items: PendingEntry[], now: number): Promise<{ recorded: PendingEntry[]; error?: unknown }> {
    const groups = chunks(items, this.opts.batchSize).map((members) => ({ id: randomUUID(), members }));
    const writes = await Promise.allSettled(groups.map(({ id, members }) => this.setIndexKey("groups", id,
      { entries: members.map((p) => ({ entry: p.entry, seq: p.seq })), enqueuedAt: now })));
    const recorded: PendingEntry[] = [];
    let error: unknown;
    writes.forEach((w, i) => {
      const group = groups[i];
      if (group === undefined) return;
      if (w.status === "rejected") {
        error ??= w.reason;
        return;
      }
      this.groupLeft.set(group.id, group.members.length);
      for (const p of group.members) recorded.push({ entry: p.entry, seq: p.seq, group: group.id });
    });
    return error === undefined ? { recorded } : { recorded, error };
  }

  async markSent(item: PendingEntry, eventId: string, now: number): Promise<void> {
    const { txnId, roomId } = item.entry;
    const marked = this.records.set(txnId, { status: "sent", roomId, eventId, at: now }, this.opts.sentTtlMs);
    if (item.group !== undefined) {
      await marked;
      await this.leaveGroup(item.group);
      return;
    }
    if (!this.inOrder) await marked;
    await Promise.all([marked, this.unindexPending(txnId)]);
  }

  /** Removes a txnId's pending index entry, where it has one (no openRecords, or written by an earlier version). */
  private async unindexPending(txnId: string): Promise<void> {
    if (this.openRecords && !this.legacyPending.has(txnId)) return;
    this.legacyPending.delete(txnId);
    await this.deleteIndexKey("pending", txnId);
  }

  async markDead(letter: DeadLetter, item: PendingEntry): Promise<void> {
    await this.records.set(letter.txnId, { status: "dead", letter, seq: item.seq }, this.opts.deadTtlMs);
    await this.setIndexKey("dead", letter.txnId, { roomId: letter.roomId, at: letter.at }, this.opts.deadTtlMs);
    if (item.group !== undefined) await this.leaveGroup(item.group);
    else await this.unindexPending(letter.txnId);
  }

  /** A member's record is durable: the group goes once none is left (a failed delete is cleaned at the next recovery). */
  private async leaveGroup(group: string): Promise<void> {
    const left = (this.groupLeft.get(group) ?? 1) - 1;
    if (left > 0) {
      this.groupLeft.set(group, left);
      return;
    }
    this.groupLeft.delete(group);
    await this.deleteIndexKey("groups", group).catch((error: unknown) =>
      this.log.warn({ err: String(error), group }, "outbox group cleanup failed; it is cleaned at the next start"));
  }

  async requeueDead(item: PendingEntry, now: number): Promise<void> {
    if (!this.openRecords) await this.setIndexKey("pending", item.entry.txnId, indexValue(item));
    await this.records.set(item.entry.txnId, { status: "pending", entry: item.entry, seq: item.seq, enqueuedAt: now });
    await this.deleteIndexKey("dead", item.entry.txnId);
  }

  /** Lists both indexes, repairs what a crash left half-written, and returns what is pending and dead. */
  async recover(now: number): Promise<RecoveredState> {
    let maxSeq = 0;
    const dead: DeadRef[] = [];
    const deadKeys = await this.list("dead", deadIndexSchema);
    const deadRecords = await this.read(deadKeys.map(([k]) => k));
    for (const [i, [txnId, ref]] of deadKeys.entries()) {
      const record = deadRecords[i];
      if (record?.status === "dead" && ref.at + this.opts.deadTtlMs > now) {
        dead.push({ txnId, ...ref });
        maxSeq = Math.max(maxSeq, record.seq);
      } else {
        await this.deleteIndexKey("dead", txnId); // expired, or requeued before a crash
      }
    }
    const records = new Map<string, OutboxRecord | undefined>();
    if (this.openRecords) for await (const [txnId, raw] of this.openRecords()) records.set(txnId, this.parseRecord(txnId, raw));
    const listed = (await this.list("pending", pendingIndexSchema)).map(([k]) => k);
    if (this.openRecords) for (const txnId of listed) this.legacyPending.add(txnId);
    const indexed = listed.filter((k) => !records.has(k));
    const indexedRecords = await this.read(indexed);
    indexed.forEach((txnId, i) => records.set(txnId, indexedRecords[i]));
    const pending: PendingEntry[] = [];
    const knownDead = new Set(dead.map((d) => d.txnId));
    for (const [txnId, record] of records) {
      if (record?.status === "pending") {
        pending.push({ entry: record.entry, seq: record.seq });
        maxSeq = Math.max(maxSeq, record.seq);
        continue;
      }
      if (record?.status === "dead" && !knownDead.has(txnId)) {
        // Crashed inside markDead: finish it.
        await this.setIndexKey("dead", txnId, { roomId: record.letter.roomId, at: record.letter.at },
          Math.max(1, record.letter.at + this.opts.deadTtlMs - now));
        dead.push({ txnId, roomId: record.letter.roomId, at: record.letter.at });
      }
      await this.unindexPending(txnId);
      this.log.debug({ txnId, status: record?.status ?? "missing" }, "outbox index entry cleaned at recovery");
    }
    for (const [id, group] of await this.list("groups", pendingGroupSchema)) {
      const records = await this.read(group.entries.map((m) => m.entry.txnId));
      let left = 0;
      for (const [i, member] of group.entries.entries()) {
        const record = records[i];
        const { txnId, roomId } = member.entry;
        if (record === undefined) { // pending in this group (a "pending" record of its own recovers it by itself)
          pending.push({ ...member, group: id });
          maxSeq = Math.max(maxSeq, member.seq);
          left += 1;
        } else if (record.status === "dead" && !knownDead.has(txnId)) { // crashed inside markDead: finish it
          await this.setIndexKey("dead", txnId, { roomId, at: record.letter.at }, Math.max(1, record.letter.at + this.opts.deadTtlMs - now));
          dead.push({ txnId, roomId, at: record.letter.at });
          knownDead.add(txnId);
        }
      }
      if (left > 0) this.groupLeft.set(id, left);
      else await this.deleteIndexKey("groups", id);
    }
    pending.sort((a, b) => a.seq - b.seq);
    return { pending, dead, maxSeq };
  }

  /** Reads the dead letters of these txnIds (undefined: expired, requeued or unreadable). */
  async readDead(txnIds: string[]): Promise<Array<{ letter: DeadLetter; seq: number } | undefined>> {
    const records = await this.read(txnIds);
    return records.map((r) => (r?.status === "dead" ? { letter: r.letter, seq: r.seq } : undefined));
  }

  private async list<T>(name: IndexName, schema: z.ZodType<T>): Promise<Array<[string, T]>> {
    const keyv = this.indexes[name];
    if (!keyv.iterator) throw new Error("this store cannot list a namespace, which outbox recovery needs");
    const out: Array<[string, T]> = [];
    const bad: string[] = [];
    this.listings += 1;
    try {
      for await (const [key, value] of keyv.iterator(undefined)) {
        if (typeof key !== "string") continue;
        const parsed = schema.safeParse(value);
        if (parsed.success) out.push([key, parsed.data]);
        else bad.push(key);
      }
    } finally {
      this.listings -= 1;
    }
    if (bad.length > 0) this.log.warn({ index: name, count: bad.length }, "outbox index entries unreadable; dropped");
    for (const key of bad) this.deferred[name].add(key);
    await this.flushDeferred();
    return out;
  }

  private async setIndexKey(name: IndexName, txnId: string, value: PendingIndexValue | DeadIndexValue | PendingGroupValue, ttlMs?: number): Promise<void> {
    this.deferred[name].delete(txnId); // a deletion deferred earlier must not undo this write
    await this.indexes[name].set(txnId, value, ttlMs);
  }

  private async deleteIndexKey(name: IndexName, txnId: string): Promise<void> {
    if (this.listings > 0) {
      this.deferred[name].add(txnId);
      return;
    }
    await this.indexes[name].delete(txnId);
  }

  private async flushDeferred(): Promise<void> {
    if (this.listings > 0) return;
    for (const name of ["pending", "dead", "groups"] as const) {
      const keys = [...this.deferred[name]];
      this.deferred[name].clear();
      for (const chunk of chunks(keys, this.opts.batchSize)) {
        try {
          await this.indexes[name].delete(chunk);
        } catch (error) {
          // Harmless: a stale index entry is cleaned at the next recovery.
          this.log.warn({ err: String(error), index: name, count: chunk.length }, "outbox index cleanup failed");
        }
      }
    }
  }

  private parseRecord(txnId: string, raw: unknown): OutboxRecord | undefined {
    if (raw === undefined || raw === null) return undefined;
    const parsed = outboxRecordSchema.safeParse(raw);
    if (parsed.success) return parsed.data;
    this.log.warn({ txnId }, "outbox record unreadable; treated as absent");
    return undefined;
  }
}

function indexValue(p: PendingEntry): PendingIndexValue {
  return { roomId: p.entry.roomId, seq: p.seq };
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += Math.max(1, size)) out.push(items.slice(i, i + Math.max(1, size)));
  return out;
}
