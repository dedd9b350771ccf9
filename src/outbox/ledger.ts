// The outbox's in-memory ledger: which txnIds are pending (queued, in flight, or held), which are dead letters,
// and how many were sent, per room. It answers stats() and finds a room's dead letters without touching the
// store. Choice: in-memory counters rebuilt by recover() from the store's two explicit indexes
// ("outbox-pending", "outbox-dead"), never by scanning the records.
//   pending: exact, for this process (entries recovered or enqueued since start).
//   dead:    exact after recover(); a dead letter counts until its TTL (`deadTtlMs`) passes.
//   sent:    counted since this process started, once the sent marker is written (sent markers are not indexed;
//            they only dedupe). A reply's sender hears of its delivery a little earlier (outbox.ts deliver).
import type { PendingEntry } from "./records";

export interface OutboxStats {
  pending: number;
  dead: number;
  sent: number;
}

export class OutboxLedger {
  private readonly pending = new Map<string, PendingEntry>();
  private readonly pendingByRoom = new Map<string, number>();
  private readonly deadByRoom = new Map<string, Map<string, number>>();
  private readonly deadRoomOf = new Map<string, string>();
  private readonly sentByRoom = new Map<string, number>();
  private sentTotal = 0;

  constructor(private readonly deadTtlMs: number, private readonly now: () => number) {}

  get pendingSize(): number {
    return this.pending.size;
  }

  isPending(txnId: string): boolean {
    return this.pending.has(txnId);
  }

  isDead(txnId: string): boolean {
    return this.deadRoomOf.has(txnId);
  }

  addPending(item: PendingEntry): void {
    const { txnId, roomId } = item.entry;
    if (this.pending.has(txnId)) return;
    this.pending.set(txnId, item);
    this.pendingByRoom.set(roomId, (this.pendingByRoom.get(roomId) ?? 0) + 1);
  }

  removePending(txnId: string): void {
    const item = this.pending.get(txnId);
    if (!item) return;
    this.pending.delete(txnId);
    const roomId = item.entry.roomId;
    const left = (this.pendingByRoom.get(roomId) ?? 1) - 1;
    if (left > 0) this.pendingByRoom.set(roomId, left);
    else this.pendingByRoom.delete(roomId);
  }

  addDead(txnId: string, roomId: string, at: number): void {
    this.removeDead(txnId);
    let room = this.deadByRoom.get(roomId);
    if (!room) {
      room = new Map();
      this.deadByRoom.set(roomId, room);
    }
    room.set(txnId, at);
    this.deadRoomOf.set(txnId, roomId);
  }

  removeDead(txnId: string): void {
    const roomId = this.deadRoomOf.get(txnId);
    if (roomId === undefined) return;
    this.deadRoomOf.delete(txnId);
    const room = this.deadByRoom.get(roomId);
    room?.delete(txnId);
    if (room?.size === 0) this.deadByRoom.delete(roomId);
  }

  /** The live (unexpired) dead letters' txnIds, one room's or all; expired ones are forgotten on the way. */
  deadTxnIds(roomId?: string): string[] {
    const rooms = roomId === undefined ? [...this.deadByRoom.keys()] : [roomId];
    const cutoff = this.now() - this.deadTtlMs;
    const out: string[] = [];
    for (const id of rooms) {
      for (const [txnId, at] of [...(this.deadByRoom.get(id) ?? [])]) {
        if (at > cutoff) out.push(txnId);
        else this.removeDead(txnId);
      }
    }
    return out;
  }

  addSent(roomId: string): void {
    this.sentTotal += 1;
    this.sentByRoom.set(roomId, (this.sentByRoom.get(roomId) ?? 0) + 1);
  }

  stats(roomId?: string): OutboxStats {
    const dead = this.deadTxnIds(roomId).length;
    if (roomId === undefined) return { pending: this.pending.size, dead, sent: this.sentTotal };
    return { pending: this.pendingByRoom.get(roomId) ?? 0, dead, sent: this.sentByRoom.get(roomId) ?? 0 };
  }
}
