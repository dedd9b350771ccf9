// What a user may do in a room, with the spec's authorization rules (membership, power levels,
// v12 creators), shared by the HTTP routes and the in-process control API.
import { canonicalJson } from "./ids";
import type { HomeserverModel } from "./model";
import type { Room, StoredEvent } from "./room";
import type { JsonObject, Membership } from "./types";
import { badJson, forbidden, isJsonObject, MatrixHttpError, notFound } from "./types";

type Txn = StoredEvent["txn"];

export class RoomActions {
  constructor(private readonly model: HomeserverModel) {}

  room(roomId: string): Room {
    const room = this.model.room(roomId);
    if (!room) throw notFound(`Unknown room ${roomId}`);
    return room;
  }

  private requireJoined(room: Room, userId: string): void {
    if (room.membership(userId) !== "join") throw forbidden(`User ${userId} not in room ${room.roomId}`);
  }

  send(sender: string, roomId: string, type: string, content: JsonObject, txn?: Txn): StoredEvent {
    const room = this.room(roomId);
    this.requireJoined(room, sender);
    if (room.powerOf(sender) < room.powerForEvent(type, false)) {
      throw forbidden(`You don't have permission to post ${type} events`);
    }
    if (type === "m.reaction") refuseDuplicateAnnotation(room, sender, content);
    return this.model.append(room, { type, sender, content }, txn);
  }

  setState(sender: string, roomId: string, type: string, stateKey: string, content: JsonObject, txn?: Txn): StoredEvent {
    if (type === "m.room.member") {
      const membership = content["membership"];
      if (typeof membership !== "string") throw badJson("m.room.member needs a membership");
      return this.membership(sender, roomId, stateKey, membership as Membership, content);
    }
    const room = this.room(roomId);
    this.requireJoined(room, sender);
    if (type === "m.room.create") throw forbidden("m.room.create cannot be changed");
    if (stateKey.startsWith("@") && stateKey !== sender) throw forbidden("State key cannot be another user's id");
    if (room.powerOf(sender) < room.powerForEvent(type, true)) {
      throw forbidden(`You don't have permission to send ${type} state events`);
    }
    if (type === "m.room.power_levels") this.checkPowerLevelsChange(room, sender, content);
    return this.model.append(room, { type, sender, content, state_key: stateKey }, txn);
  }

  private checkPowerLevelsChange(room: Room, sender: string, content: JsonObject): void {
    const users = isJsonObject(content["users"]) ? content["users"] : {};
    if (room.version === "12") {
      const listed = room.creators().filter((creator) => creator in users);
      if (listed.length > 0) throw badJson(`Room creators cannot be listed in power_levels.users: ${listed.join(", ")}`);
    }
    const mine = room.powerOf(sender);
    const before = room.powerLevels() ?? {};
    const oldUsers = isJsonObject(before["users"]) ? before["users"] : {};
    for (const [userId, level] of Object.entries(users)) {
      if (oldUsers[userId] === level) continue;
      if (typeof level === "number" && level > mine) throw forbidden("You cannot raise a power level above your own");
      if (userId !== sender && room.powerOf(userId) >= mine) throw forbidden("You cannot change the level of a peer");
    }
  }

  /** Any membership change: join, leave (incl. reject, kick, unban), invite, ban. */
  membership(sender: string, roomId: string, target: string, membership: Membership, extra: JsonObject = {}): StoredEvent {
    const room = this.room(roomId);
    const current = room.membership(target);
    const senderMembership = room.membership(sender);
    const content: JsonObject = { ...extra, membership };
    if (membership === "join") {
      if (sender !== target) throw forbidden("Cannot force another user to join");
      if (current === "ban") throw forbidden("You are banned from this room");
      if (current !== "join" && current !== "invite" && room.joinRule() !== "public") {
        const authoriser = this.restrictedJoinAuthoriser(room, target);
        if (authoriser === undefined) throw forbidden("You are not invited to this room.");
        content["join_authorised_via_users_server"] = authoriser;
      }
      const user = this.model.users.get(target);
      if (content["displayname"] === undefined && user?.displayName !== undefined) content["displayname"] = user.displayName;
      if (content["avatar_url"] === undefined && user?.avatarUrl !== undefined) content["avatar_url"] = user.avatarUrl;
      const existing = room.state("m.room.member", target);
      if (current === "join" && existing && sameContent(existing.event.content, content)) return existing;
    } else if (membership === "invite") {
      this.requireJoined(room, sender);
      if (current === "join") throw forbidden(`${target} is already in the room.`);
      if (current === "ban") throw forbidden(`${target} is banned from the room`);
      if (room.powerOf(sender) < room.powerFor("invite")) throw forbidden("You don't have permission to invite users");
      const user = this.model.users.get(target);
      if (content["displayname"] === undefined && user?.displayName !== undefined) content["displayname"] = user.displayName;
    } else if (membership === "leave") {
      if (sender === target) {
        if (current !== "join" && current !== "invite" && current !== "knock") {
          throw forbidden(`User ${target} not in room ${roomId}`);
        }
      } else {
        if (senderMembership !== "join") throw forbidden(`User ${sender} not in room ${roomId}`);
        const need = current === "ban" ? room.powerFor("ban") : room.powerFor("kick");
        if (current !== "join" && current !== "invite" && current !== "knock" && current !== "ban") {
          throw forbidden(`${target} is not in the room`);
        }
        if (room.powerOf(sender) < need || room.powerOf(target) >= room.powerOf(sender)) {
          throw forbidden(`You don't have permission to ${current === "ban" ? "unban" : "kick"} ${target}`);
        }
      }
    } else if (membership === "ban") {
      if (senderMembership !== "join") throw forbidden(`User ${sender} not in room ${roomId}`);
      if (room.powerOf(sender) < room.powerFor("ban") || room.powerOf(target) >= room.powerOf(sender)) {
        throw forbidden(`You don't have permission to ban ${target}`);
      }
    } else {
      throw new MatrixHttpError(400, "M_BAD_JSON", `Unsupported membership ${membership}`);
    }
    return this.model.append(room, { type: "m.room.member", sender, content, state_key: target });
  }

  /**
   * Restricted rooms (join_rule restricted / knock_restricted): a user joined to a room named by an
   * `m.room_membership` allow condition may join; the join is authorised by a local member who can invite.
   * Returns that member, or undefined when the join is not allowed.
   */
  private restrictedJoinAuthoriser(room: Room, userId: string): string | undefined {
    const rules = room.state("m.room.join_rules")?.event.content ?? {};
    if (rules["join_rule"] !== "restricted" && rules["join_rule"] !== "knock_restricted") return undefined;
    const allow = Array.isArray(rules["allow"]) ? rules["allow"] : [];
    const allowed = allow.some((c) => isJsonObject(c) && c["type"] === "m.room_membership" && typeof c["room_id"] === "string" &&
      this.model.room(c["room_id"])?.membership(userId) === "join");
    if (!allowed) return undefined;
    return room.members("join").find((m) => room.powerOf(m) >= room.powerFor("invite"));
  }

  redact(sender: string, roomId: string, eventId: string, reason: string | undefined, txn?: Txn): StoredEvent {
    const room = this.room(roomId);
    this.requireJoined(room, sender);
    const target = room.event(eventId);
    if (!target) throw notFound(`Event not found: ${eventId}`);
    if (target.event.sender !== sender && room.powerOf(sender) < room.powerFor("redact")) {
      throw forbidden("You don't have permission to redact events of others");
    }
    const content: JsonObject = { redacts: eventId };
    if (reason !== undefined) content["reason"] = reason;
    const redaction = this.model.append(room, { type: "m.room.redaction", sender, content, redacts: eventId }, txn);
    target.event.content = redactContent(target.event.type, target.event.content);
    const { event_id: _id, ...because } = redaction.event;
    target.event.unsigned = { ...(target.event.unsigned ?? {}), redacted_because: { event_id: redaction.event.event_id, ...because } };
    return redaction;
  }

  /** A new display name shows in every joined room as a fresh member event, as Synapse does. */
  setDisplayName(userId: string, displayName: string | undefined): void {
    const user = this.model.users.require(userId);
    if (displayName === undefined) delete user.displayName;
    else user.displayName = displayName;
    for (const room of this.model.rooms.values()) {
      const member = room.state("m.room.member", userId);
      if (!member || room.membership(userId) !== "join") continue;
      const content: JsonObject = { ...member.event.content };
      if (displayName === undefined) delete content["displayname"];
      else content["displayname"] = displayName;
      this.model.append(room, { type: "m.room.member", sender: userId, content, state_key: userId });
    }
  }
}

const KEPT_ON_REDACTION: Record<string, string[]> = {
  "m.room.member": ["membership", "join_authorised_via_users_server"],
  "m.room.join_rules": ["join_rule", "allow"],
  "m.room.power_levels": ["ban", "events", "events_default", "invite", "kick", "redact", "state_default", "users", "users_default"],
  "m.room.history_visibility": ["history_visibility"],
  "m.room.redaction": ["redacts"],
};

/** Redaction algorithm (room version 11 rules) applied to content. */
export function redactContent(type: string, content: JsonObject): JsonObject {
  if (type === "m.room.create") return content;
  const kept = KEPT_ON_REDACTION[type] ?? [];
  const out: JsonObject = {};
  for (const key of kept) if (key in content) out[key] = content[key];
  return out;
}

function sameContent(a: JsonObject, b: JsonObject): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/**
 * Synapse 1.67 (handlers/message.py) refuses a second unredacted annotation with the same key by the same sender on
 * the same event: 400 M_UNKNOWN "Can't send same reaction twice" (newer Synapse: M_DUPLICATE_ANNOTATION). A resend
 * under the same txnId never gets here (the send is idempotent).
 */
function refuseDuplicateAnnotation(room: Room, sender: string, content: JsonObject): void {
  const relation = content["m.relates_to"];
  if (!isJsonObject(relation) || relation["rel_type"] !== "m.annotation") return;
  const { event_id: parent, key } = relation;
  if (typeof key !== "string") throw new MatrixHttpError(400, "M_UNKNOWN", "Missing aggregation key");
  if (key.length > 500) throw new MatrixHttpError(400, "M_UNKNOWN", "Aggregation key is too long");
  const duplicate = room.events.some(({ event }) => {
    const rel = event.content["m.relates_to"];
    return event.type === "m.reaction" && event.sender === sender && event.unsigned?.["redacted_because"] === undefined
      && isJsonObject(rel) && rel["rel_type"] === "m.annotation" && rel["event_id"] === parent && rel["key"] === key;
  });
  if (duplicate) throw new MatrixHttpError(400, "M_UNKNOWN", "Can't send same reaction twice");
}
