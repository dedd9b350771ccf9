// Encrypted events the bot could not read, kept until their room key arrives: durable (a keyv namespace, so they
// survive a restart) and bounded by count and by age. Past either bound the oldest are dropped and counted. An
// in-memory index (loaded at start) finds the events of a room key (room id + Megolm session id) without reading
// the store.
import type Keyv from "keyv";
import type { Logger } from "pino";
import { parseRoomEvent, type RoomEvent } from "../../matrix/events";

/** One held event as stored: the encrypted event as JSON text, and what finds it. */
export interface HeldRecord {
  roomId: string;
  eventId: string;
  sessionId: string;
  heldAt: number;
  json: string;
}

export type HeldRef = Omit<HeldRecord, "json">;

export interface HeldEventsOptions {
  /** Events kept at most; past it the oldest are dropped. */
  max: number;
  /** How long an event is kept; older ones are dropped. */
  maxAgeMs: number;
  /** Lists the namespace (key, record), for the index at start. */
  list: () => AsyncIterable<[string, unknown]>;
  /** Events dropped unread: "full" (count bound) or "expired" (age bound). */
  onDropped?: (count: number, why: "full" | "expired") => void;
  now?: () => number;
}

/** The Megolm session an `m.room.encrypted` event was encrypted with (its room key's id), if it names one. */
export function megolmSessionOf(event: RoomEvent): string | undefined {
  const id = event.content["session_id"];
  return typeof id === "string" && id !== "" ? id : undefined;
}

export class HeldEvents {
  private readonly index = new Map<string, HeldRef>();
  private readonly now: () => number;

  constructor(private readonly kv: Keyv<HeldRecord>, private readonly opts: HeldEventsOptions, private readonly log: Logger) {
    this.now = opts.now ?? Date.now;
  }

  static key(roomId: string, eventId: string): string {
    return `${roomId}|${eventId}`;
  }

  /** Reads the index from the store (call once at start), dropping what expired meanwhile. */
  async load(): Promise<void> {
    for await (const [key, value] of this.opts.list()) {
      const ref = refOf(value);
      if (ref) this.index.set(key, ref);
      else await this.kv.delete(key);
    }
    await this.prune();
  }

  get size(): number {
    return this.index.size;
  }

  has(ref: Pick<HeldRef, "roomId" | "eventId">): boolean {
    return this.index.has(HeldEvents.key(ref.roomId, ref.eventId));
  }

  /** Keeps the event (durably, before its journal entry is completed). An event without a Megolm session is not kept. */
  async hold(event: RoomEvent): Promise<boolean> {
    const sessionId = megolmSessionOf(event);
    if (sessionId === undefined) return false;
    const key = HeldEvents.key(event.room_id, event.event_id);
    const heldAt = this.index.get(key)?.heldAt ?? this.now(); // held again (routed again after a restart): its age goes on
    const ref: HeldRef = { roomId: event.room_id, eventId: event.event_id, sessionId, heldAt };
    await this.kv.set(key, { ...ref, json: JSON.stringify(event) }, Math.max(1, heldAt + this.opts.maxAgeMs - this.now()));
    this.index.set(key, ref);
    await this.prune();
    return this.index.has(key);
  }

  /** The held events of a room key. */
  matching(roomId: string, sessionId: string): HeldRef[] {
    return [...this.index.values()].filter((r) => r.roomId === roomId && r.sessionId === sessionId);
  }

  /** Every held event, oldest first. */
  all(): HeldRef[] {
    return [...this.index.values()].sort((a, b) => a.heldAt - b.heldAt);
  }

  /** Held events in the room, but `except`. */
  othersInRoom(roomId: string, exceptEventId: string): number {
    return [...this.index.values()].filter((r) => r.roomId === roomId && r.eventId !== exceptEventId).length;
  }

  /** The encrypted event as it arrived, or undefined when it is gone (expired, dropped) or unreadable. */
  async event(ref: HeldRef): Promise<RoomEvent | undefined> {
    const record = await this.kv.get(HeldEvents.key(ref.roomId, ref.eventId));
    if (!record) return undefined;
    let raw: unknown;
    try {
      raw = JSON.parse(record.json);
    } catch {
      return undefined;
    }
    const parsed = parseRoomEvent(raw, ref.roomId);
    return parsed.ok ? parsed.event : undefined;
  }

  /** No longer held (read at last, or gone). */
  async release(ref: Pick<HeldRef, "roomId" | "eventId">): Promise<void> {
    const key = HeldEvents.key(ref.roomId, ref.eventId);
    await this.kv.delete(key);
    this.index.delete(key);
  }

  /** Drops (and counts) what is past the age bound now. */
  async expire(): Promise<void> {
    await this.prune();
  }

  /** Drops what is past the age bound, then the oldest past the count bound. */
  private async prune(): Promise<void> {
    const oldest = this.all();
    const cutoff = this.now() - this.opts.maxAgeMs;
    const expired = oldest.filter((r) => r.heldAt <= cutoff);
    const rest = oldest.filter((r) => r.heldAt > cutoff);
    const full = rest.slice(0, Math.max(0, rest.length - this.opts.max));
    for (const ref of [...expired, ...full]) await this.release(ref);
    if (expired.length > 0) this.dropped(expired, "expired");
    if (full.length > 0) this.dropped(full, "full");
  }

  private dropped(refs: HeldRef[], why: "full" | "expired"): void {
    this.opts.onDropped?.(refs.length, why);
    this.log.warn({ count: refs.length, why, rooms: [...new Set(refs.map((r) => r.roomId))].slice(0, 10) },
      why === "full" ? "undecryptable events dropped unread: too many kept (UNDECRYPTABLE_KEEP_MAX)"
        : "undecryptable events dropped unread: their key did not come in time (UNDECRYPTABLE_KEEP_MS)");
  }
}

function refOf(value: unknown): HeldRef | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const r = value as Partial<HeldRecord>;
  if (typeof r.roomId !== "string" || typeof r.eventId !== "string" || typeof r.sessionId !== "string" || typeof r.heldAt !== "number") return undefined;
  return { roomId: r.roomId, eventId: r.eventId, sessionId: r.sessionId, heldAt: r.heldAt };
}
