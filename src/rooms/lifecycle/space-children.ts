// `m.space.child` entries, validated. The state key is the child room id; content with a non-empty `via`
// list means the child is in the space, anything else (usually `{}`) means it was removed. Hostile spaces may
// put anything there: ids that are not room ids, `via` that is not a list of server names, huge values.
import { z } from "zod";

export const SPACE_CHILD = "m.space.child";

const SERVER_NAME = /^(?:[A-Za-z0-9.-]{1,255}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;
/** `!opaque` (room version 12: no server part) or `!opaque:server`; printable ASCII, at most 255 characters. */
const ROOM_ID = /^![\x21-\x39\x3b-\x7e]+(?::(?:[A-Za-z0-9.-]{1,255}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?)?$/;

export function isRoomId(value: unknown): value is string {
  return typeof value === "string" && value.length <= 255 && ROOM_ID.test(value);
}

export function isServerName(value: unknown): value is string {
  return typeof value === "string" && value.length <= 255 && SERVER_NAME.test(value);
}

export type ChildEntry = { childId: string; present: true; via: string[] } | { childId: string; present: false };

export type ChildParse = { ok: true; entry: ChildEntry } | { ok: false; reason: string };

const contentSchema = z.record(z.string(), z.unknown());

/** One `m.space.child` state event (its state key and content), validated. */
export function parseSpaceChild(stateKey: unknown, content: unknown, maxVia: number): ChildParse {
  if (!isRoomId(stateKey)) return { ok: false, reason: "the state key is not a room id" };
  const parsed = contentSchema.safeParse(content);
  if (!parsed.success) return { ok: false, reason: "the content is not an object" };
  const via = parsed.data["via"];
  if (via === undefined || (Array.isArray(via) && via.length === 0)) return { ok: true, entry: { childId: stateKey, present: false } };
  if (!Array.isArray(via)) return { ok: false, reason: "via is not a list" };
  const servers = [...new Set(via.filter(isServerName))].slice(0, maxVia);
  if (servers.length === 0) return { ok: false, reason: "via names no valid server" };
  return { ok: true, entry: { childId: stateKey, present: true, via: servers } };
}

/** The children listed in a room's full state (GET /state), in state order, plus how many entries were malformed. */
export function childrenInState(events: readonly unknown[], maxVia: number): { present: Array<{ childId: string; via: string[] }>; malformed: number } {
  const present: Array<{ childId: string; via: string[] }> = [];
  let malformed = 0;
  for (const raw of events) {
    if (typeof raw !== "object" || raw === null) continue;
    const event = raw as { type?: unknown; state_key?: unknown; content?: unknown };
    if (event.type !== SPACE_CHILD) continue;
    const child = parseSpaceChild(event.state_key, event.content, maxVia);
    if (!child.ok) malformed += 1;
    else if (child.entry.present) present.push({ childId: child.entry.childId, via: child.entry.via });
  }
  return { present, malformed };
}

/** `m.room.join_rules` content: the rule ("invite" when missing) and the rooms a restricted rule admits members of. */
export function joinRuleOf(joinRules: Record<string, unknown>): { rule: string; allowRooms: string[] } {
  const rule = typeof joinRules["join_rule"] === "string" ? joinRules["join_rule"] : "invite";
  const allow = Array.isArray(joinRules["allow"]) ? joinRules["allow"] : [];
  const allowRooms = allow.flatMap((condition: unknown): string[] => {
    if (typeof condition !== "object" || condition === null) return [];
    const { type, room_id: roomId } = condition as { type?: unknown; room_id?: unknown };
    return type === "m.room_membership" && isRoomId(roomId) ? [roomId] : [];
  });
  return { rule, allowRooms };
}
