// One room: its events in stream order, current state, memberships and power levels.
import type { ClientEvent, JsonObject, Membership, RoomVersion } from "./types";
import { isJsonObject } from "./types";

export interface StoredEvent {
  /** Global stream position (shared with sync tokens and /messages tokens). */
  pos: number;
  event: ClientEvent;
  /** Who sent it through PUT /send with a txnId: the token scope and the txnId. */
  txn?: { scope: string; txnId: string };
}

const stateKeyOf = (type: string, stateKey: string): string => `${type}\u0000${stateKey}`;

export class Room {
  readonly events: StoredEvent[] = [];
  private readonly byId = new Map<string, StoredEvent>();
  private readonly current = new Map<string, StoredEvent>();

  constructor(
    readonly roomId: string,
    readonly version: RoomVersion,
  ) {}

  append(stored: StoredEvent): void {
    this.events.push(stored);
    this.byId.set(stored.event.event_id, stored);
    const { type, state_key: stateKey } = stored.event;
    if (stateKey !== undefined) this.current.set(stateKeyOf(type, stateKey), stored);
  }

  event(eventId: string): StoredEvent | undefined {
    return this.byId.get(eventId);
  }

  state(type: string, stateKey = ""): StoredEvent | undefined {
    return this.current.get(stateKeyOf(type, stateKey));
  }

  stateEvents(): StoredEvent[] {
    return [...this.current.values()].sort((a, b) => a.pos - b.pos);
  }

  /** State as it was right after stream position `pos` (inclusive). */
  stateAt(pos: number): Map<string, StoredEvent> {
    const state = new Map<string, StoredEvent>();
    for (const stored of this.events) {
      if (stored.pos > pos) break;
      const { type, state_key: stateKey } = stored.event;
      if (stateKey !== undefined) state.set(stateKeyOf(type, stateKey), stored);
    }
    return state;
  }

  /** State keys changed by events with from < pos < to, with their value as of `to - 1`. */
  stateChangedBetween(from: number, to: number): StoredEvent[] {
    const keys = new Set<string>();
    for (const stored of this.events) {
      if (stored.pos <= from) continue;
      if (stored.pos >= to) break;
      if (stored.event.state_key !== undefined) keys.add(stateKeyOf(stored.event.type, stored.event.state_key));
    }
    const at = this.stateAt(to - 1);
    return [...keys].flatMap((key) => at.get(key) ?? []).sort((a, b) => a.pos - b.pos);
  }

  membership(userId: string): Membership | undefined {
    return membershipOf(this.state("m.room.member", userId));
  }

  membershipAt(userId: string, pos: number): Membership | undefined {
    return membershipOf(this.stateAt(pos).get(stateKeyOf("m.room.member", userId)));
  }

  /** User ids whose current membership is `membership`. */
  members(membership: Membership): string[] {
    const out: string[] = [];
    for (const stored of this.current.values()) {
      if (stored.event.type !== "m.room.member" || stored.event.state_key === undefined) continue;
      if (membershipOf(stored) === membership) out.push(stored.event.state_key);
    }
    return out;
  }

  createEvent(): ClientEvent | undefined {
    return this.state("m.room.create")?.event;
  }

  /** Room creators: the create event's sender, plus `additional_creators` in v12. */
  creators(): string[] {
    const create = this.createEvent();
    if (!create) return [];
    if (this.version !== "12") return [create.sender];
    const extra = create.content["additional_creators"];
    const additional = Array.isArray(extra) ? extra.filter((v): v is string => typeof v === "string") : [];
    return [create.sender, ...additional.filter((u) => u !== create.sender)];
  }

  powerLevels(): JsonObject | undefined {
    return this.state("m.room.power_levels")?.event.content;
  }

  /** A user's power level; v12 creators have infinite power. */
  powerOf(userId: string): number {
    if (this.version === "12" && this.creators().includes(userId)) return Number.POSITIVE_INFINITY;
    const levels = this.powerLevels();
    if (!levels) return this.creators().includes(userId) ? 100 : 0;
    const users = isJsonObject(levels["users"]) ? levels["users"] : {};
    return numberOr(users[userId], numberOr(levels["users_default"], 0));
  }

  /** Power needed for an action key of power_levels (invite, kick, ban, redact) with spec defaults. */
  powerFor(action: "invite" | "kick" | "ban" | "redact"): number {
    const levels = this.powerLevels() ?? {};
    return numberOr(levels[action], action === "invite" ? 0 : 50);
  }

  /** Power needed to send an event of this type. */
  powerForEvent(type: string, isState: boolean): number {
    const levels = this.powerLevels();
    if (!levels) return 0;
    const events = isJsonObject(levels["events"]) ? levels["events"] : {};
    const fallback = isState ? numberOr(levels["state_default"], 50) : numberOr(levels["events_default"], 0);
    return numberOr(events[type], fallback);
  }

  joinRule(): string {
    const rule = this.state("m.room.join_rules")?.event.content["join_rule"];
    return typeof rule === "string" ? rule : "invite";
  }
}

function membershipOf(stored: StoredEvent | undefined): Membership | undefined {
  const value = stored?.event.content["membership"];
  return typeof value === "string" ? (value as Membership) : undefined;
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}
