// Inbound Matrix events, validated at the edge. A malformed event fails only itself.
import { z } from "zod";

/** An id with its sigil (`$` event, `!` room, `@` user); the spec caps ids at 255 bytes. */
const sigilId = (sigil: string) => z.string().min(2).max(255).startsWith(sigil);

export const roomEventSchema = z.looseObject({
  event_id: sigilId("$"),
  room_id: sigilId("!"),
  sender: sigilId("@"),
  type: z.string().min(1),
  content: z.record(z.string(), z.unknown()),
  origin_server_ts: z.number().optional(),
  state_key: z.string().optional(),
  unsigned: z.record(z.string(), z.unknown()).optional(),
  redacts: z.string().optional(),
});
export type RoomEvent = z.infer<typeof roomEventSchema>;

/** An invite for the bot, from /sync's invite_state or an appservice transaction. */
export interface InviteNotice {
  roomId: string;
  inviter: string;
  isDirect: boolean;
  roomType?: string;
  /** Servers to join through: the inviter's server, the room id's server when it has one. */
  via: string[];
}

export type InboundItem =
  /** `snapshot`: from /sync's state block (current state, not news): routed for room facts, not journaled. */
  | { kind: "event"; event: RoomEvent; snapshot?: true }
  | { kind: "invite"; invite: InviteNotice };

/** What handling a batch did: `journaled`, the events recorded as new (0: it left nothing in the store). */
export interface InboundBatchResult {
  journaled: number;
}

/**
 * What a batch's journal writes may carry, on a store that applies writes in issue order (Store.writesInIssueOrder):
 * `alongside` is called once, right after the journal issued the batch's writes (in the same tick: they share its
 * commit, and what it writes is never durable without them): a transaction's id record, a sync token. Not called
 * when the batch writes nothing to the journal, nor on another store, nor when the batch is taken item by item: the
 * caller then writes after the batch, as before.
 */
export interface InboundBatchOptions {
  alongside?: () => void;
}

export function serverOf(id: string): string | undefined {
  const i = id.indexOf(":");
  return i >= 0 ? id.slice(i + 1) : undefined;
}

export function viaFor(roomId: string, inviter: string): string[] {
  const servers = [serverOf(inviter), serverOf(roomId)].filter((s): s is string => s !== undefined && s !== "");
  return [...new Set(servers)];
}

/**
 * Parses one raw event, or returns the reason it is unusable. Never throws: zod's own checks can (a length check
 * runs on any input that has a `length`, e.g. `{"event_id": {"length": [{"toString": 1}]}}`, and compares it).
 */
export function parseRoomEvent(raw: unknown, roomId?: string): { ok: true; event: RoomEvent } | { ok: false; reason: string } {
  const candidate = roomId !== undefined && typeof raw === "object" && raw !== null ? { room_id: roomId, ...raw } : raw;
  let parsed: ReturnType<typeof roomEventSchema.safeParse>;
  try {
    parsed = roomEventSchema.safeParse(candidate);
  } catch (error) {
    return { ok: false, reason: `event: not parseable (${error instanceof Error ? error.message : "unknown error"})` };
  }
  if (parsed.success) return { ok: true, event: parsed.data };
  return { ok: false, reason: parsed.error.issues.map((i) => `${i.path.join(".") || "event"}: ${i.message}`).join("; ") };
}

/** The member event that invites `userId`, turned into an InviteNotice. */
export function inviteFromMemberEvent(event: RoomEvent, userId: string): InviteNotice | undefined {
  if (event.type !== "m.room.member" || event.state_key !== userId) return undefined;
  if (event.content["membership"] !== "invite") return undefined;
  return {
    roomId: event.room_id,
    inviter: event.sender,
    isDirect: event.content["is_direct"] === true,
    via: viaFor(event.room_id, event.sender),
  };
}
