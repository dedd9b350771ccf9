// Inbound events made durable before they are acknowledged (sync token saved, transaction answered 200),
// deduplicated by room + event id, processed claim → process → done, and resumed after a crash.
//
// Where the pending set is kept (JournalStores.listOpen):
//   in the entries: on a store that lists a namespace's entries without expiry (Store.openLister: our SQLite,
//             PostgreSQL and Redis adapters), a pending entry is written with no ttl and its done entry with one, so
//             the entries themselves say what is pending: record is one write per event, complete one, each atomic.
//             Index entries an earlier version wrote ("journal-pending") are still read at recovery, and removed
//             when their event completes (or at recovery, when it is done already).
//   in an index: on any other store, keyv has no multi-key transaction, so the write order carries the guarantees:
//     record:   pending-index entry first, then the journal entry. A crash between leaves an index entry with no
//               journal entry: dropped at recovery, and the event (not acknowledged yet) is delivered again.
//     complete: journal entry marked done first, then the index entry removed. A crash between leaves a done
//               entry in the index: recovery sees "done" and only cleans the index.
// Done entries keep only their status (not the event) for `doneTtlMs`, long enough to dedupe redeliveries. A
// pending entry's `receivedAt` carries a per-process counter in its fraction (nextOrder): recovery's order.
//   append:   on a store with insertIfAbsent (Store.inserter) record() reads nothing first: the index entry, then
//             the journal entry only where its key has none. On a store that orders writes both go in one group
//             commit (all or nothing: neither is durable without the other); elsewhere the index write is awaited
//             first. A key that had an entry (a redelivery) is read then and decided as record() decides; a done
//             key's index entry just written is removed (a crash first leaves a done entry in the index: cleaned at
//             recovery, as above). On a store that orders writes, what the batch's acknowledgement must not
//             precede (a transaction's id record, a sync token: InboundBatchOptions.alongside) is issued right behind
//             them and shares their commit.
//   reopen:   an event done once (an encrypted one the bot could not read) is recorded again, as it reads now, marked
//             `late`: pending, then done, both keeping the mark, so it is reopened (and answered) only once.
//
// The event is kept as the JSON text it arrived as (not as an object for the store's serializer to walk): nothing
// a sender puts in content (`toJSON`, `__proto__`, `then`, deep nesting) is interpreted on the way to the disk.
// An event that cannot even be written as JSON text (nested deeper than JSON.stringify goes) is a poison item:
// reported through `onPoison`, not recorded, and the rest of its batch goes on.
import type Keyv from "keyv";
import type { Logger } from "pino";
import type { RoomEvent } from "./events";
import { asJsonText, eventOf, isLate, type JournalEntry as Entry } from "./journal-entry";

export type { JournalEntry } from "./journal-entry";

/** An inbound event that could not be stored: skipped, logged and counted, never blocking its batch. */
export interface PoisonItem {
  roomId: string;
  eventId: string;
  reason: string;
}

export interface JournalStores {
  entries: Keyv<Entry>;
  pending: Keyv<number>;
  /** Lists the pending index (key, recorded order). Not keyv's iterator: it breaks on a shared adapter. */
  listPending: () => AsyncIterable<[string, unknown]>;
  /**
   * Lists the entries stored without a ttl (Store.openLister): the pending ones. When set, no index entry is written
   * (see "Where the pending set is kept" above); the index is still read at recovery (entries of an earlier version).
   */
  listOpen?: () => AsyncIterable<[string, Entry]>;
  /** The store applies writes in issue order (Store.writesInIssueOrder): ordered writes need not wait for each other. */
  writesInIssueOrder?: boolean;
  /**
   * The store's insertIfAbsent for `entries` (Store.inserter): writes the entries whose key holds none and says
   * which it wrote, with no read. Without it record() reads the keys first (any keyv adapter).
   */
  insertNew?: (entries: ReadonlyArray<{ key: string; value: Entry }>) => Promise<boolean[]>;
}

export interface JournalOptions {
  /** How long a done entry is kept to dedupe redeliveries. Default 7 days. */
  doneTtlMs?: number;
  /** An event skipped because it cannot be stored. Default: logged at warn. */
  onPoison?: (item: PoisonItem) => void;
  /** Awaited before events are handed out for processing (a claim); rejects when this process may not (store lease lost). */
  guard?: (what: string) => Promise<void>;
}

export class Journal {
  private order = 0;
  /**
   * Keys this process handed out (record, unfinished) and has not completed. A pending entry outside this set was
   * written by an attempt whose batch was refused (another write failed): its redelivery hands it out then.
   */
  private readonly handedOut = new Set<string>();
  /** Keys reopened (reopen, or found reopened at recovery) and not completed: their done entry keeps the mark. */
  private readonly reopened = new Set<string>();
  /** Whether pending entries get an index entry (the store cannot list its entries without expiry). */
  private readonly indexed: boolean;
  /** Keys whose index entry an earlier version wrote (found at recovery, not indexed): removed once done. */
  private readonly legacyIndexed = new Set<string>();
  private readonly doneTtlMs: number;
  private readonly onPoison: (item: PoisonItem) => void;
  private readonly guard: (what: string) => Promise<void>;

  constructor(private readonly stores: JournalStores, private readonly log: Logger, options: JournalOptions = {}) {
    this.doneTtlMs = options.doneTtlMs ?? 7 * 24 * 3600 * 1000;
    this.onPoison = options.onPoison ?? ((item) => log.warn(item, "inbound event could not be stored; skipped"));
    this.guard = options.guard ?? (async () => undefined);
    this.indexed = stores.listOpen === undefined;
  }

  static key(roomId: string, eventId: string): string {
    return `${roomId}|${eventId}`;
  }

  /**
   * Makes the new events durable and returns those not seen before, in order. Throws if the store fails.
   * The whole batch goes in three store round trips (read all, index all, journal all), not three per event:
   * every index entry is written before any journal entry, which keeps the write order above. On a store that
   * applies writes in issue order, the journal entries are issued right behind the index entries (two trips), and
   * `alongside` (InboundBatchOptions) right behind them, when there are any.
   */
  async record(events: RoomEvent[], alongside?: () => void): Promise<RoomEvent[]> {
    const unique = new Map<string, RoomEvent>();
    for (const event of events) {
      const key = Journal.key(event.room_id, event.event_id);
      if (!unique.has(key)) unique.set(key, event);
    }
    if (unique.size === 0) return [];
    if (this.stores.insertNew) return this.append(unique, this.stores.insertNew, alongside);
    const keys = [...unique.keys()];
    const existing = await this.stores.entries.getMany(keys);
    const texts = new Map<string, string>();
    keys.forEach((key, i) => {
      const entry = existing[i];
      if (entry !== undefined && (entry.status === "done" || this.handedOut.has(key) || isLate(entry))) return;
      const event = unique.get(key) as RoomEvent;
      const json = asJsonText(event);
      if (typeof json === "string") texts.set(key, json);
      else this.onPoison({ roomId: event.room_id, eventId: event.event_id, reason: json.unstorable });
    });
    const fresh = [...texts.keys()];
    if (fresh.length === 0) return [];
    await this.guard("journal claim");
    const orders = new Map(fresh.map((key) => [key, this.nextOrder()]));
    const indexed = this.index(orders);
    if (!this.stores.writesInIssueOrder) await indexed;
    const journaled = Promise.all(fresh.map((key) =>
      this.stores.entries.set(key, { status: "pending", json: texts.get(key) as string, receivedAt: orders.get(key) as number })));
    if (this.stores.writesInIssueOrder) alongside?.();
    await Promise.all([indexed, journaled]);
    for (const key of fresh) this.handedOut.add(key);
    return fresh.map((key) => unique.get(key) as RoomEvent);
  }

  /**
   * record() with the store's insertIfAbsent (see "append" at the top): no read before the writes. The keys are held
   * in `handedOut` while they are written, so a concurrent batch with the same event does not take it too; a failure
   * lets them go (the redelivery of the refused batch then hands them out).
   */
  private async append(unique: Map<string, RoomEvent>, insertNew: NonNullable<JournalStores["insertNew"]>,
    alongside: (() => void) | undefined): Promise<RoomEvent[]> {
    const texts = new Map<string, string>();
    for (const [key, event] of unique) {
      if (this.handedOut.has(key)) continue;
      const json = asJsonText(event);
      if (typeof json === "string") texts.set(key, json);
      else this.onPoison({ roomId: event.room_id, eventId: event.event_id, reason: json.unstorable });
    }
    if (texts.size === 0) return [];
    await this.guard("journal claim");
    const keys = [...texts.keys()].filter((key) => !this.handedOut.has(key)); // (one taken meanwhile by another batch)
    for (const key of keys) this.handedOut.add(key);
    const fresh = new Set<string>();
    try {
      const orders = new Map(keys.map((key) => [key, this.nextOrder()]));
      const pending = (key: string): Entry => ({ status: "pending", json: texts.get(key) as string, receivedAt: orders.get(key) as number });
      const indexed = this.index(orders);
      if (!this.stores.writesInIssueOrder) await indexed;
      const inserted = insertNew(keys.map((key) => ({ key, value: pending(key) })));
      if (this.stores.writesInIssueOrder && keys.length > 0) alongside?.();
      const [, wrote] = await Promise.all([indexed, inserted]);
      keys.forEach((key, i) => wrote[i] && fresh.add(key));
      const known = keys.filter((key) => !fresh.has(key));
      if (known.length > 0) for (const key of await this.recordKnown(known, pending)) fresh.add(key);
    } catch (error) {
      for (const key of keys) this.handedOut.delete(key);
      throw error;
    }
    for (const key of keys) if (!fresh.has(key)) this.handedOut.delete(key);
    return keys.filter((key) => fresh.has(key)).map((key) => unique.get(key) as RoomEvent);
  }

  /**
   * Keys append() found with an entry, their index entry written: done → not new, its index entry removed; late
   * (reopened by an earlier process, pending) → not new (recovery hands it out); pending from a refused attempt, or
   * gone meanwhile → written again and new. Returns the new ones.
   */
  private async recordKnown(keys: string[], pending: (key: string) => Entry): Promise<string[]> {
    const entries = await this.stores.entries.getMany(keys);
    const again: string[] = [];
    const done: string[] = [];
    keys.forEach((key, i) => {
      const entry = entries[i];
      if (entry?.status === "done") done.push(key);
      else if (entry === undefined || !isLate(entry)) again.push(key);
    });
    await Promise.all([...again.map((key) => this.stores.entries.set(key, pending(key))), ...done.map((key) => this.unindex(key))]);
    return again;
  }

  /** Writes the index entries of these keys (key → order), on a store that keeps the pending set in an index. */
  private index(orders: Map<string, number>): Promise<unknown> {
    if (!this.indexed) return Promise.resolve();
    return Promise.all([...orders].map(([key, order]) => this.stores.pending.set(key, order)));
  }

  /** Removes the key's index entry, where it has one (indexed, or written by an earlier version). */
  private async unindex(key: string): Promise<void> {
    if (!this.indexed && !this.legacyIndexed.has(key)) return;
    await this.stores.pending.delete(key);
    this.legacyIndexed.delete(key);
  }

  /** Milliseconds since the epoch with a per-process counter in the fraction: keeps arrival order. */
  private nextOrder(): number {
    this.order = (this.order + 1) % 1000;
    return Date.now() + this.order / 1000;
  }

  async isDone(roomId: string, eventId: string): Promise<boolean> {
    return (await this.doneState(roomId, eventId)).done;
  }

  /** Whether the event is done, and the run whose answer settled it (when one did: see complete). */
  async doneState(roomId: string, eventId: string): Promise<{ done: boolean; by?: string }> {
    const entry = await this.stores.entries.get(Journal.key(roomId, eventId));
    if (entry?.status !== "done") return { done: false };
    return { done: true, ...(typeof entry.by === "string" ? { by: entry.by } : {}) };
  }

  /** Marks an event processed. Idempotent. `by`: the run whose answer settled it (run-batches.ts reads it at recovery). */
  async complete(roomId: string, eventId: string, by?: string): Promise<void> {
    await this.completeKey(Journal.key(roomId, eventId), by);
  }

  private async completeKey(key: string, by?: string): Promise<void> {
    const done = this.stores.entries.set(key, { status: "done", at: Date.now(), ...(this.reopened.has(key) ? { late: true as const } : {}),
      ...(by !== undefined ? { by } : {}) }, this.doneTtlMs);
    if (!this.stores.writesInIssueOrder) await done;
    await Promise.all([done, this.unindex(key)]);
    this.handedOut.delete(key);
    this.reopened.delete(key);
  }

  /**
   * Records an event again that was done before (an encrypted event whose room key arrived late, now decrypted), so
   * the normal path handles it, crash-safe like a new one. Once per event: false (nothing written) when it was
   * reopened before, whether pending or done since. Throws if the store fails.
   */
  async reopen(event: RoomEvent): Promise<boolean> {
    const key = Journal.key(event.room_id, event.event_id);
    const entry = await this.stores.entries.get(key);
    if ((entry !== undefined && isLate(entry)) || this.reopened.has(key)) return false;
    const json = asJsonText(event);
    if (typeof json !== "string") {
      this.onPoison({ roomId: event.room_id, eventId: event.event_id, reason: json.unstorable });
      return false;
    }
    this.reopened.add(key);
    try {
      const order = this.nextOrder();
      await this.index(new Map([[key, order]]));
      await this.stores.entries.set(key, { status: "pending", json, receivedAt: order, late: true });
    } catch (error) {
      this.reopened.delete(key);
      throw error;
    }
    this.handedOut.add(key);
    return true;
  }

  /** The events recorded but not completed before the last stop, oldest first. */
  async unfinished(): Promise<RoomEvent[]> {
    await this.guard("journal claim");
    const found = new Map<string, { at: number; entry?: Entry }>();
    if (this.stores.listOpen) {
      for await (const [key, entry] of this.stores.listOpen()) found.set(key, { at: "receivedAt" in entry ? entry.receivedAt : 0, entry });
    }
    for await (const [key, at] of this.stores.listPending()) {
      if (!this.indexed) this.legacyIndexed.add(key);
      found.set(key, { ...found.get(key), at: typeof at === "number" ? at : 0 });
    }
    const keys = [...found].sort((a, b) => a[1].at - b[1].at);
    const events: RoomEvent[] = [];
    for (const [key, listed] of keys) {
      const entry = listed.entry ?? await this.stores.entries.get(key);
      if (entry?.status !== "pending") {
        await this.unindex(key);
        this.log.debug({ key, status: entry?.status ?? "missing" }, "journal index entry cleaned at recovery");
        continue;
      }
      const event = eventOf(entry);
      if (event.ok) {
        this.handedOut.add(key);
        if (isLate(entry)) this.reopened.add(key);
        events.push(event.event);
        continue;
      }
      const cut = key.indexOf("|"); // (an id may hold "|" too: the names are for the log only)
      this.onPoison({ roomId: key.slice(0, cut), eventId: key.slice(cut + 1), reason: `journal entry unreadable: ${event.reason}` });
      await this.completeKey(key);
    }
    return events;
  }
}
