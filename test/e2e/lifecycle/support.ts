// Helpers for the room lifecycle end-to-end tests: spaces built through the homeserver double's control API,
// the rooms the bot provisioned (found by their marker), and the bot's introductions.
import type { Homeserver } from "../../support/homeserver";
import type { ClientEvent, JsonObject } from "../../support/homeserver/types";
import { isIntroduction } from "../../support/bot-messages";
import { PROVISION_MARKER_TYPE } from "../../../src/rooms/lifecycle";

export function createSpace(hs: Homeserver, creator: string, name = "Team space"): string {
  return hs.createRoom(creator, { name, preset: "private_chat", creationContent: { type: "m.space" } });
}

/** A child room: public, restricted to members of `spaceId`, or invite-only. */
export function createChild(hs: Homeserver, creator: string, kind: "public" | "restricted" | "invite", spaceId?: string, name = `${kind} room`): string {
  if (kind === "public") return hs.createRoom(creator, { name, preset: "public_chat" });
  if (kind === "invite") return hs.createRoom(creator, { name, preset: "private_chat" });
  return hs.createRoom(creator, {
    name, preset: "private_chat",
    initialState: [{ type: "m.room.join_rules", content: { join_rule: "restricted", allow: [{ type: "m.room_membership", room_id: spaceId }] } }],
  });
}

export function addChild(hs: Homeserver, sender: string, spaceId: string, childId: string, content: JsonObject = { via: ["localhost"] }): void {
  hs.setState(sender, spaceId, "m.space.child", childId, content);
}

export function removeChild(hs: Homeserver, sender: string, spaceId: string, childId: string): void {
  hs.setState(sender, spaceId, "m.space.child", childId, {});
}

/** The bot's introductions in a room. */
export function introductions(hs: Homeserver, roomId: string, botUserId: string): ClientEvent[] {
  return hs.sent({ roomId, sender: botUserId, type: "m.room.message" }).filter(isIntroduction);
}

/** Rooms carrying the bot's provisioning marker for `userId` (kind "space" or "chat"). */
export function provisionedRooms(hs: Homeserver, userId: string, kind: "space" | "chat"): string[] {
  return hs.rooms().filter((roomId) => {
    const marker = hs.getState(roomId, PROVISION_MARKER_TYPE)?.content;
    return marker?.["user_id"] === userId && marker["kind"] === kind;
  });
}

/** Rooms the bot created whose m.room.create says m.space. */
export function spacesCreatedBy(hs: Homeserver, userId: string): string[] {
  return hs.rooms().filter((roomId) => {
    const create = hs.getState(roomId, "m.room.create");
    return create?.sender === userId && create.content["type"] === "m.space";
  });
}

/** Join requests the bot sent for a room (POST /join/{id} or /rooms/{id}/join). */
export function joinAttempts(hs: Homeserver, botUserId: string, roomIdPrefix: string): number {
  return hs.requests.filter((r) => r.method === "POST" && r.userId === botUserId &&
    (r.path.includes(`/join/${roomIdPrefix}`) || (r.path.includes(`/rooms/${roomIdPrefix}`) && r.path.endsWith("/join")))).length;
}

/** Waits until `userId` has a provisioned space and chat room, both with an invite for them and the chat introduced. */
export async function waitProvisioned(hs: Homeserver, botUserId: string, userId: string, timeoutMs?: number): Promise<{ spaceId: string; roomId: string }> {
  return hs.waitFor(() => {
    const [spaceId] = provisionedRooms(hs, userId, "space");
    const [roomId] = provisionedRooms(hs, userId, "chat");
    if (!spaceId || !roomId) return undefined;
    const invited = hs.membership(spaceId, userId) !== undefined && hs.membership(roomId, userId) !== undefined;
    return invited && introductions(hs, roomId, botUserId).length > 0 ? { spaceId, roomId } : undefined;
  }, { what: `the space provisioned for ${userId}`, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
}
