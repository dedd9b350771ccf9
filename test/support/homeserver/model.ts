// The double's world: one stream position for everything (events, typing, receipts, account data),
// rooms, aliases, ephemeral state and the waiters that long-polling /sync requests park on.
import { newEventId } from "./ids";
import { KeyDirectory } from "./keys";
import { checkSizeLimits } from "./pdu";
import type { Room, StoredEvent } from "./room";
import type { ClientEvent, JsonObject, ReceiptRecord, TypingRecord } from "./types";
import { clone } from "./types";
import { UserDirectory } from "./users";

export interface AppendInput {
  type: string;
  sender: string;
  content: JsonObject;
  state_key?: string;
  redacts?: string;
  /** Only for the v12 create event, whose id is the room id's hash. */
  event_id?: string;
}

export interface StoredReceipt {
  roomId: string;
  userId: string;
  eventId: string;
  type: string;
  threadId?: string;
  ts: number;
  pos: number;
}

export type WakeReason = "change" | "timeout" | "abort" | "closed";

type EventListener = (stored: StoredEvent, room: Room) => void;

export class HomeserverModel {
  readonly users: UserDirectory;
  /** Device keys, one-time keys and to-device inboxes (E2EE). */
  readonly keys: KeyDirectory;
  readonly rooms = new Map<string, Room>();
  readonly aliases = new Map<string, string>();
  readonly typingRecords: TypingRecord[] = [];
  readonly receiptRecords: ReceiptRecord[] = [];
  /** The latest receipt per (room, user, type, thread), in the order they were last set. */
  private readonly receiptsByKey = new Map<string, StoredReceipt>();
  private position = 0;
  private readonly typingNow = new Map<string, Map<string, NodeJS.Timeout>>();
  private readonly typingPos = new Map<string, number>();
  private readonly waiters = new Set<() => void>();
  private readonly listeners: EventListener[] = [];
  private closed = false;

  constructor(readonly serverName: string) {
    this.users = new UserDirectory(serverName);
    this.keys = new KeyDirectory(() => this.bump());
  }

  get pos(): number {
    return this.position;
  }

  get pendingWaiters(): number {
    return this.waiters.size;
  }

  /** Advance the stream and wake every parked /sync. */
  bump(): number {
    this.position += 1;
    for (const wake of [...this.waiters]) wake();
    return this.position;
  }

  /**
   * Resolves at the next stream change ("change"), after `ms` ("timeout"), when `register` hands over
   * an abort (connection closed: "abort"), or when the double closes ("closed"). Leaves no waiter or timer.
   */
  waitForChange(ms: number, register: (abort: () => void) => void): Promise<WakeReason> {
    if (this.closed) return Promise.resolve("closed");
    if (ms <= 0) return Promise.resolve("timeout");
    return new Promise((resolve) => {
      const finish = (reason: WakeReason): void => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve(reason);
      };
      const wake = (): void => finish(this.closed ? "closed" : "change");
      const timer = setTimeout(() => finish("timeout"), ms);
      timer.unref();
      this.waiters.add(wake);
      register(() => finish("abort"));
    });
  }

  onEvent(listener: EventListener): void {
    this.listeners.push(listener);
  }

  room(roomId: string): Room | undefined {
    return this.rooms.get(roomId);
  }

  /**
   * Persist an event into a room: refuse it as Synapse would when too large (413 M_TOO_LARGE, see pdu.ts), mint
   * its id, keep prev_content, advance the stream, notify.
   */
  append(room: Room, input: AppendInput, txn?: StoredEvent["txn"]): StoredEvent {
    const now = Date.now();
    checkSizeLimits(room, input, this.serverName, now);
    const event: ClientEvent = {
      event_id: input.event_id ?? newEventId(),
      type: input.type,
      sender: input.sender,
      room_id: room.roomId,
      origin_server_ts: now,
      content: clone(input.content),
    };
    if (input.state_key !== undefined) {
      event.state_key = input.state_key;
      const previous = room.state(input.type, input.state_key);
      if (previous) event.unsigned = { prev_content: clone(previous.event.content), prev_sender: previous.event.sender };
    }
    if (input.redacts !== undefined) event.redacts = input.redacts;
    const stored: StoredEvent = { pos: this.position + 1, event };
    if (txn) stored.txn = txn;
    this.position += 1;
    room.append(stored);
    for (const listener of this.listeners) listener(stored, room);
    for (const wake of [...this.waiters]) wake();
    return stored;
  }

  setTyping(roomId: string, userId: string, typing: boolean, timeoutMs: number | undefined): void {
    this.typingRecords.push({ roomId, userId, typing, ...(timeoutMs !== undefined ? { timeout: timeoutMs } : {}), at: Date.now() });
    let inRoom = this.typingNow.get(roomId);
    if (!inRoom) {
      inRoom = new Map();
      this.typingNow.set(roomId, inRoom);
    }
    const existing = inRoom.get(userId);
    if (existing) clearTimeout(existing);
    inRoom.delete(userId);
    if (typing && !this.closed) {
      const timer = setTimeout(() => {
        if (inRoom.get(userId) !== timer) return;
        inRoom.delete(userId);
        this.typingPos.set(roomId, this.bump());
      }, timeoutMs ?? 30_000);
      timer.unref();
      inRoom.set(userId, timer);
    }
    this.typingPos.set(roomId, this.bump());
  }

  typists(roomId: string): string[] {
    return [...(this.typingNow.get(roomId)?.keys() ?? [])];
  }

  typingChangedAt(roomId: string): number | undefined {
    return this.typingPos.get(roomId);
  }

  /** Current receipts (the latest per room, user, type and thread), oldest first. */
  get receipts(): StoredReceipt[] {
    return [...this.receiptsByKey.values()];
  }

  addReceipt(receipt: Omit<StoredReceipt, "pos" | "ts">): void {
    const ts = Date.now();
    this.receiptRecords.push({ ...receipt, at: ts });
    if (receipt.type === "m.fully_read") return;
    const key = `${receipt.roomId}\n${receipt.userId}\n${receipt.type}\n${receipt.threadId ?? ""}`;
    this.receiptsByKey.delete(key); // re-inserted last, as the newest
    this.receiptsByKey.set(key, { ...receipt, ts, pos: this.position + 1 });
    this.bump();
  }

  setAccountData(userId: string, roomId: string | undefined, type: string, content: JsonObject): void {
    this.users.setAccountData(userId, roomId, type, clone(content), this.position + 1);
    this.bump();
  }

  /** Wake every waiter and stop typing timers; later waits resolve at once. */
  close(): void {
    this.closed = true;
    for (const inRoom of this.typingNow.values()) for (const timer of inRoom.values()) clearTimeout(timer);
    this.typingNow.clear();
    for (const wake of [...this.waiters]) wake();
  }
}
