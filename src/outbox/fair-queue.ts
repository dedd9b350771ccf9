// Who is sent next. Three rules:
//   - at most one send in flight per room, and a room's entries leave in enqueue order (seq);
//   - rooms take turns (round robin), so one busy or slow room never holds back another beyond the
//     outbox's concurrency bound;
//   - two lanes: rooms whose next entry is interactive (a reply, a notice) go before rooms whose next entry is
//     proactive fan-out, except that after `interactiveBurst` interactive picks in a row while proactive
//     rooms wait, one proactive room goes (fan-out is slowed by replies, never stopped);
//   - the caller may close the proactive lane for one pick (`take(false)`): the outbox does that while fan-out
//     already holds its share of the sends in flight, so replies always find a free slot.
// A reply never waits behind a big fan-out in other rooms; in its own room it waits only for the entries
// enqueued there before it.
import { laneOf, type Lane, type PendingEntry } from "./records";

interface RoomQueue {
  items: PendingEntry[];
  /** A send for this room is in flight. */
  busy: boolean;
  /** The room is listed in a lane's ready list. */
  ready: boolean;
}

/** A FIFO with O(1) shift (arrays' shift is O(n) once large). */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.head += 1;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

export class FairQueue {
  private readonly rooms = new Map<string, RoomQueue>();
  private readonly ready: Record<Lane, Fifo<string>> = { interactive: new Fifo(), proactive: new Fifo() };
  private streak = 0;
  private queued = 0;

  constructor(private readonly interactiveBurst: number) {}

  /** Entries waiting (not in flight). */
  get size(): number {
    return this.queued;
  }

  push(item: PendingEntry): void {
    const roomId = item.entry.roomId;
    let room = this.rooms.get(roomId);
    if (!room) {
      room = { items: [], busy: false, ready: false };
      this.rooms.set(roomId, room);
    }
    let at = room.items.length;
    while (at > 0 && (room.items[at - 1]?.seq ?? 0) > item.seq) at -= 1;
    room.items.splice(at, 0, item);
    this.queued += 1;
    this.markReady(roomId, room);
  }

  /** The next entry to send, its room marked busy until `done(roomId)`; undefined when nothing is ready.
   *  With `proactiveAllowed` false only interactive entries are taken. */
  take(proactiveAllowed = true): PendingEntry | undefined {
    for (;;) {
      const lane = this.chooseLane(proactiveAllowed);
      if (!lane) return undefined;
      const roomId = this.ready[lane].shift();
      if (roomId === undefined) continue;
      const room = this.rooms.get(roomId);
      if (!room || !room.ready) continue; // stale listing (room emptied by removeRoom)
      room.ready = false;
      const item = room.items.shift();
      if (!item) {
        if (!room.busy) this.rooms.delete(roomId);
        continue;
      }
      room.busy = true;
      this.queued -= 1;
      return item;
    }
  }

  /** The send taken for this room finished: its next entry (if any) becomes ready. */
  done(roomId: string): void {
    const room = this.rooms.get(roomId);
    if (!room) return;
    room.busy = false;
    if (room.items.length === 0) this.rooms.delete(roomId);
    else this.markReady(roomId, room);
  }

  /** Removes and returns a room's waiting entries (not the one in flight). */
  removeRoom(roomId: string): PendingEntry[] {
    const room = this.rooms.get(roomId);
    if (!room) return [];
    const items = room.items;
    room.items = [];
    room.ready = false;
    this.queued -= items.length;
    if (!room.busy) this.rooms.delete(roomId);
    return items;
  }

  /** Removes and returns every waiting entry (on stop). */
  removeAll(): PendingEntry[] {
    const all: PendingEntry[] = [];
    for (const roomId of [...this.rooms.keys()]) all.push(...this.removeRoom(roomId));
    return all;
  }

  private markReady(roomId: string, room: RoomQueue): void {
    const head = room.items[0];
    if (room.busy || room.ready || !head) return;
    room.ready = true;
    this.ready[laneOf(head.entry)].push(roomId);
  }

  private chooseLane(proactiveAllowed: boolean): Lane | undefined {
    const interactive = this.ready.interactive.size > 0;
    const proactive = proactiveAllowed && this.ready.proactive.size > 0;
    if (interactive && (!proactive || this.streak < this.interactiveBurst)) {
      this.streak = proactive ? this.streak + 1 : 0;
      return "interactive";
    }
    if (proactive) {
      this.streak = 0;
      return "proactive";
    }
    return undefined;
  }
}
