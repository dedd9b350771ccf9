// Inbound events made durable before they are acknowledged (sync token saved, transaction answered 200),
// deduplicated by room + event id, processed claim → process → done, and resumed after a crash.
//
// keyv has no multi-key transaction, so the write order carries the guarantees:
//   record:   pending-index entry first, then the journal entry. A crash between leaves an index entry with no
//             journal entry: dropped at recovery, and the event (not acknowledged yet) is delivered again.
//   complete: journal entry marked done first, then the index entry removed. A crash between leaves a done
//             entry in the index: recovery sees "done" and only cleans the index.
// Done entries keep only their status (not the event) for `doneTtlMs`, long enough to dedupe redeliveries.
import type Keyv from "keyv";
import type { Logger } from "pino";
import type { RoomEvent } from "./events";

type Entry = { status: "pending"; event: RoomEvent; receivedAt: number } | { status: "done"; at: number };

export interface JournalStores {
  entries: Keyv<Entry>;
  pending: Keyv<number>;
  /** Lists the pending index (key, recorded order). Not keyv's iterator: it breaks on a shared adapter. */
  listPending: () => AsyncIterable<[string, unknown]>;
  /** The store applies writes in issue order (Store.writesInIssueOrder): ordered writes need not wait for each other. */
  writesInIssueOrder?: boolean;
}

export class Journal {
  private order = 0;

  constructor(private readonly stores: JournalStores, private readonly log: Logger,
    private readonly doneTtlMs = 7 * 24 * 3600 * 1000) {}

  static key(roomId: string, eventId: string): string {
    return `${roomId}|${eventId}`;
  }

  /**
   * Makes the new events durable and returns those not seen before, in order. Throws if the store fails.
   * The whole batch goes in three store round trips (read all, index all, journal all), not three per event:
   * every index entry is written before any journal entry, which keeps the write order above. On a store that
   * applies writes in issue order, the journal entries are issued right behind the index entries (two trips).
   */
  async record(events: RoomEvent[]): Promise<RoomEvent[]> {
    const unique = new Map<string, RoomEvent>();
    for (const event of events) {
      const key = Journal.key(event.room_id, event.event_id);
      if (!unique.has(key)) unique.set(key, event);
    }
    if (unique.size === 0) return [];
    const keys = [...unique.keys()];
    const existing = await this.stores.entries.getMany(keys);
    const fresh = keys.filter((_, i) => existing[i] === undefined);
    if (fresh.length === 0) return [];
    const receivedAt = Date.now();
    const indexed = Promise.all(fresh.map((key) => this.stores.pending.set(key, this.nextOrder())));
    if (!this.stores.writesInIssueOrder) await indexed;
    const journaled = Promise.all(fresh.map((key) =>
      this.stores.entries.set(key, { status: "pending", event: unique.get(key) as RoomEvent, receivedAt })));
    await Promise.all([indexed, journaled]);
    return fresh.map((key) => unique.get(key) as RoomEvent);
  }

  /** Milliseconds since the epoch with a per-process counter in the fraction: keeps arrival order. */
  private nextOrder(): number {
    this.order = (this.order + 1) % 1000;
    return Date.now() + this.order / 1000;
  }

  async isDone(roomId: string, eventId: string): Promise<boolean> {
    const entry = await this.stores.entries.get(Journal.key(roomId, eventId));
    return entry?.status === "done";
  }

  /** Marks an event processed. Idempotent. */
  async complete(roomId: string, eventId: string): Promise<void> {
    const key = Journal.key(roomId, eventId);
    await this.stores.entries.set(key, { status: "done", at: Date.now() }, this.doneTtlMs);
    await this.stores.pending.delete(key);
  }

  /** The events recorded but not completed before the last stop, oldest first. */
  async unfinished(): Promise<RoomEvent[]> {
    const keys: Array<{ key: string; at: number }> = [];
    for await (const [key, at] of this.stores.listPending()) {
      keys.push({ key, at: typeof at === "number" ? at : 0 });
    }
    keys.sort((a, b) => a.at - b.at);
    const events: RoomEvent[] = [];
    for (const { key } of keys) {
      const entry = await this.stores.entries.get(key);
      if (entry?.status === "pending") events.push(entry.event);
      else {
        await this.stores.pending.delete(key);
        this.log.debug({ key, status: entry?.status ?? "missing" }, "journal index entry cleaned at recovery");
      }
    }
    return events;
  }
}
