// POST /createRoom semantics: the event sequence a homeserver writes for a new room, presets,
// power levels defaults, and room version 12 (hash room id, creators outside power_levels).
import { hashB64Url, canonicalJson, legacyRoomId, USER_ID_RE } from "./ids";
import type { RoomActions } from "./actions";
import type { HomeserverModel } from "./model";
import { Room } from "./room";
import type { JsonObject, RoomVersion } from "./types";
import { SUPPORTED_ROOM_VERSIONS, badJson, forbidden, isJsonObject, invalidParam, MatrixHttpError } from "./types";

/** The spec request body of POST /createRoom (the fields the double honours). */
export interface CreateRoomBody {
  name?: string;
  topic?: string;
  preset?: "private_chat" | "public_chat" | "trusted_private_chat";
  visibility?: "public" | "private";
  is_direct?: boolean;
  invite?: string[];
  room_alias_name?: string;
  room_version?: string;
  creation_content?: JsonObject;
  initial_state?: Array<{ type: string; state_key?: string; content: JsonObject }>;
  power_level_content_override?: JsonObject;
}

export interface CreateRoomOptions {
  name?: string;
  topic?: string;
  isDirect?: boolean;
  invite?: string[];
  preset?: "private_chat" | "public_chat" | "trusted_private_chat";
  roomVersion?: RoomVersion;
  roomAliasName?: string;
  creationContent?: JsonObject;
  initialState?: Array<{ type: string; state_key?: string; content: JsonObject }>;
  powerLevelContentOverride?: JsonObject;
}

/** The control API's camelCase options as a createRoom request body. */
export function createRoomBodyFrom(opts: CreateRoomOptions): CreateRoomBody {
  const body: CreateRoomBody = {};
  if (opts.name !== undefined) body.name = opts.name;
  if (opts.topic !== undefined) body.topic = opts.topic;
  if (opts.isDirect !== undefined) body.is_direct = opts.isDirect;
  if (opts.invite !== undefined) body.invite = opts.invite;
  if (opts.preset !== undefined) body.preset = opts.preset;
  if (opts.roomVersion !== undefined) body.room_version = opts.roomVersion;
  if (opts.roomAliasName !== undefined) body.room_alias_name = opts.roomAliasName;
  if (opts.creationContent !== undefined) body.creation_content = opts.creationContent;
  if (opts.initialState !== undefined) body.initial_state = opts.initialState;
  if (opts.powerLevelContentOverride !== undefined) body.power_level_content_override = opts.powerLevelContentOverride;
  return body;
}

export function parseCreateRoomBody(body: JsonObject): CreateRoomBody {
  const out: CreateRoomBody = {};
  const str = (key: string): string | undefined => {
    const value = body[key];
    if (value === undefined) return undefined;
    if (typeof value !== "string") throw badJson(`${key} must be a string`);
    return value;
  };
  const name = str("name");
  if (name !== undefined) out.name = name;
  const topic = str("topic");
  if (topic !== undefined) out.topic = topic;
  const preset = str("preset");
  if (preset !== undefined) {
    if (preset !== "private_chat" && preset !== "public_chat" && preset !== "trusted_private_chat") throw badJson(`Unknown preset ${preset}`);
    out.preset = preset;
  }
  const visibility = str("visibility");
  if (visibility !== undefined) out.visibility = visibility === "public" ? "public" : "private";
  if (body["is_direct"] !== undefined) out.is_direct = body["is_direct"] === true;
  if (body["invite"] !== undefined) {
    const invite = body["invite"];
    if (!Array.isArray(invite) || !invite.every((u) => typeof u === "string")) throw badJson("invite must be a list of user ids");
    out.invite = invite as string[];
  }
  const alias = str("room_alias_name");
  if (alias !== undefined) out.room_alias_name = alias;
  const version = str("room_version");
  if (version !== undefined) out.room_version = version;
  if (body["creation_content"] !== undefined) {
    if (!isJsonObject(body["creation_content"])) throw badJson("creation_content must be an object");
    out.creation_content = body["creation_content"];
  }
  if (body["initial_state"] !== undefined) {
    const initial = body["initial_state"];
    if (!Array.isArray(initial) || !initial.every((e) => isJsonObject(e) && typeof e["type"] === "string" && isJsonObject(e["content"]))) {
      throw badJson("initial_state must be a list of {type, state_key?, content}");
    }
    out.initial_state = initial as CreateRoomBody["initial_state"];
  }
  if (body["power_level_content_override"] !== undefined) {
    if (!isJsonObject(body["power_level_content_override"])) throw badJson("power_level_content_override must be an object");
    out.power_level_content_override = body["power_level_content_override"];
  }
  return out;
}

export function createRoom(model: HomeserverModel, creator: string, body: CreateRoomBody, defaultVersion: RoomVersion): string {
  const version = (body.room_version ?? defaultVersion) as RoomVersion;
  if (!SUPPORTED_ROOM_VERSIONS.includes(version)) {
    throw new MatrixHttpError(400, "M_UNSUPPORTED_ROOM_VERSION", `Your homeserver does not support room version ${String(body.room_version)}`);
  }
  const invitees = body.invite ?? [];
  for (const invitee of invitees) if (!USER_ID_RE.test(invitee)) throw invalidParam(`Invalid user id ${invitee}`);
  const preset = body.preset ?? (body.visibility === "public" ? "public_chat" : "private_chat");
  const alias = body.room_alias_name !== undefined ? `#${body.room_alias_name}:${model.serverName}` : undefined;
  if (alias !== undefined && model.aliases.has(alias)) throw new MatrixHttpError(400, "M_ROOM_IN_USE", "Room alias already taken");

  const createContent: JsonObject = { ...(body.creation_content ?? {}), room_version: version };
  if (version === "10") createContent["creator"] = creator;
  else delete createContent["creator"];
  let creators = [creator];
  if (version === "12") {
    const extra = Array.isArray(createContent["additional_creators"]) ? (createContent["additional_creators"] as unknown[]) : [];
    if (!extra.every((u): u is string => typeof u === "string" && USER_ID_RE.test(u))) throw badJson("additional_creators must be user ids");
    const additional = [...extra, ...(preset === "trusted_private_chat" ? invitees : [])].filter((u, i, all) => u !== creator && all.indexOf(u) === i);
    if (additional.length > 0) createContent["additional_creators"] = additional;
    creators = [creator, ...additional];
  } else {
    delete createContent["additional_creators"];
  }

  const powerLevels = defaultPowerLevels(version, creators, preset === "trusted_private_chat" ? invitees : [], preset);
  Object.assign(powerLevels, body.power_level_content_override ?? {});
  if (version === "12") {
    const users = isJsonObject(powerLevels["users"]) ? powerLevels["users"] : {};
    const listed = creators.filter((c) => c in users);
    if (listed.length > 0) throw badJson(`Room creators cannot be listed in power_levels.users: ${listed.join(", ")}`);
  }

  const ts = Date.now();
  let roomId: string;
  let createEventId: string | undefined;
  if (version === "12") {
    const hash = hashB64Url(canonicalJson({ type: "m.room.create", sender: creator, state_key: "", content: createContent, origin_server_ts: ts }));
    roomId = `!${hash}`;
    createEventId = `$${hash}`;
  } else {
    roomId = legacyRoomId(model.serverName);
  }
  const room = new Room(roomId, version);
  model.rooms.set(roomId, room);
  const state = (type: string, content: JsonObject, stateKey = ""): void => {
    model.append(room, { type, sender: creator, content, state_key: stateKey });
  };

  model.append(room, { type: "m.room.create", sender: creator, content: createContent, state_key: "", ...(createEventId ? { event_id: createEventId } : {}) });
  const creatorUser = model.users.get(creator);
  const joinContent: JsonObject = { membership: "join" };
  if (creatorUser?.displayName !== undefined) joinContent["displayname"] = creatorUser.displayName;
  state("m.room.member", joinContent, creator);
  state("m.room.power_levels", powerLevels);
  if (alias !== undefined) {
    model.aliases.set(alias, roomId);
    state("m.room.canonical_alias", { alias });
  }
  state("m.room.join_rules", { join_rule: preset === "public_chat" ? "public" : "invite" });
  state("m.room.history_visibility", { history_visibility: "shared" });
  if (preset !== "public_chat") state("m.room.guest_access", { guest_access: "can_join" });
  for (const initial of body.initial_state ?? []) state(initial.type, initial.content, initial.state_key ?? "");
  if (body.name !== undefined) state("m.room.name", { name: body.name });
  if (body.topic !== undefined) state("m.room.topic", { topic: body.topic });
  for (const invitee of invitees) {
    const content: JsonObject = { membership: "invite" };
    if (body.is_direct === true) content["is_direct"] = true;
    const displayName = model.users.get(invitee)?.displayName;
    if (displayName !== undefined) content["displayname"] = displayName;
    state("m.room.member", content, invitee);
  }
  return roomId;
}

function defaultPowerLevels(version: RoomVersion, creators: string[], opInvitees: string[], preset: string): JsonObject {
  const users: JsonObject = {};
  if (version !== "12") {
    for (const creator of creators) users[creator] = 100;
    for (const invitee of opInvitees) users[invitee] = 100;
  }
  return {
    users,
    users_default: 0,
    events: {
      "m.room.name": 50,
      "m.room.power_levels": 100,
      "m.room.history_visibility": 100,
      "m.room.canonical_alias": 50,
      "m.room.avatar": 50,
      "m.room.tombstone": version === "12" ? 150 : 100,
      "m.room.server_acl": 100,
      "m.room.encryption": 100,
    },
    events_default: 0,
    state_default: 50,
    ban: 50,
    kick: 50,
    redact: 50,
    invite: preset === "public_chat" ? 50 : 0,
    notifications: { room: 50 },
  };
}

const UPGRADE_COPIED_STATE = [
  "m.room.join_rules",
  "m.room.history_visibility",
  "m.room.guest_access",
  "m.room.name",
  "m.room.topic",
  "m.room.avatar",
  "m.room.encryption",
  "m.room.server_acl",
];

/** POST /rooms/{roomId}/upgrade: a new room with `predecessor`, copied state, and a tombstone in the old one. */
export function upgradeRoom(model: HomeserverModel, actions: RoomActions, userId: string, roomId: string, newVersion: string): string {
  const old = actions.room(roomId);
  if (!SUPPORTED_ROOM_VERSIONS.includes(newVersion as RoomVersion)) {
    throw new MatrixHttpError(400, "M_UNSUPPORTED_ROOM_VERSION", `Your homeserver does not support room version ${newVersion}`);
  }
  if (old.membership(userId) !== "join" || old.powerOf(userId) < old.powerForEvent("m.room.tombstone", true)) {
    throw forbidden("You don't have permission to upgrade the room");
  }
  const createEvent = old.createEvent();
  const predecessor: JsonObject = { room_id: roomId };
  if (newVersion !== "12") predecessor["event_id"] = old.events[old.events.length - 1]?.event.event_id;
  const creationContent: JsonObject = { predecessor };
  const roomType = createEvent?.content["type"];
  if (typeof roomType === "string") creationContent["type"] = roomType;
  const levels = structuredClone(old.powerLevels() ?? {});
  const users = isJsonObject(levels["users"]) ? levels["users"] : {};
  if (newVersion === "12") delete users[userId];
  else users[userId] = Math.max(100, typeof users[userId] === "number" ? users[userId] : 0);
  levels["users"] = users;
  const initialState = UPGRADE_COPIED_STATE.flatMap((type) => {
    const stored = old.state(type);
    return stored ? [{ type, content: structuredClone(stored.event.content) }] : [];
  });
  const newRoomId = createRoom(
    model,
    userId,
    { room_version: newVersion, creation_content: creationContent, initial_state: initialState, power_level_content_override: levels },
    newVersion as RoomVersion,
  );
  for (const [alias, target] of model.aliases) if (target === roomId) model.aliases.set(alias, newRoomId);
  const canonical = old.state("m.room.canonical_alias");
  if (canonical) model.append(actions.room(newRoomId), { type: "m.room.canonical_alias", sender: userId, content: structuredClone(canonical.event.content), state_key: "" });
  actions.setState(userId, roomId, "m.room.tombstone", "", { body: "This room has been replaced", replacement_room: newRoomId });
  return newRoomId;
}
