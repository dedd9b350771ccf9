// GET /sync computed from the stream: joined rooms (timeline window, limited, prev_batch, state
// delta or full state, ephemeral, room account data), invites (stripped invite_state), leaves.
import type { HomeserverModel } from "./model";
import type { Room, StoredEvent } from "./room";
import type { ClientEvent, JsonObject, StrippedStateEvent } from "./types";
import { clone, invalidParam, isJsonObject } from "./types";

export interface SyncFilter {
  timelineLimit: number;
  types?: string[];
  notTypes?: string[];
  rooms?: string[];
  notRooms?: string[];
  includeLeave: boolean;
}

export interface SyncRequest {
  userId: string;
  since?: number;
  filter: SyncFilter;
  fullState: boolean;
  /** Token scope of the requester, for unsigned.transaction_id. */
  txnScope?: string;
  /** The requesting device (to-device messages, one-time key counts). */
  deviceId?: string;
}

export const streamToken = (pos: number): string => `s${pos}`;

/** Parses a sync / pagination token ("s<n>"); clamps to the current stream position. */
export function parseStreamToken(token: string, current: number): number {
  const match = /^[st](\d+)$/.exec(token);
  if (!match?.[1]) throw invalidParam(`Invalid token ${token}`);
  return Math.min(Number(match[1]), current);
}

export function parseFilter(raw: JsonObject | undefined, defaultLimit: number): SyncFilter {
  const room = isJsonObject(raw?.["room"]) ? raw["room"] : {};
  const timeline = isJsonObject(room["timeline"]) ? room["timeline"] : {};
  const strings = (value: unknown): string[] | undefined =>
    Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : undefined;
  const limit = timeline["limit"];
  const filter: SyncFilter = {
    timelineLimit: typeof limit === "number" && limit > 0 ? Math.floor(limit) : defaultLimit,
    includeLeave: room["include_leave"] === true,
  };
  const types = strings(timeline["types"]);
  if (types) filter.types = types;
  const notTypes = strings(timeline["not_types"]);
  if (notTypes) filter.notTypes = notTypes;
  const rooms = strings(room["rooms"]);
  if (rooms) filter.rooms = rooms;
  const notRooms = strings(room["not_rooms"]);
  if (notRooms) filter.notRooms = notRooms;
  return filter;
}

const globMatch = (pattern: string, value: string): boolean =>
  pattern.endsWith("*") ? value.startsWith(pattern.slice(0, -1)) : pattern === value;

function typeAllowed(filter: SyncFilter, type: string): boolean {
  if (filter.notTypes?.some((p) => globMatch(p, type))) return false;
  return filter.types === undefined || filter.types.some((p) => globMatch(p, type));
}

function roomAllowed(filter: SyncFilter, roomId: string): boolean {
  if (filter.notRooms?.includes(roomId)) return false;
  return filter.rooms === undefined || filter.rooms.includes(roomId);
}

/** A stored event as a client sees it: age, and transaction_id for the token that sent it. */
export function clientEvent(stored: StoredEvent, opts: { txnScope?: string; withRoomId: boolean }): ClientEvent {
  const event = clone(stored.event);
  const unsigned: JsonObject = { ...(event.unsigned ?? {}), age: Math.max(0, Date.now() - event.origin_server_ts) };
  if (stored.txn && opts.txnScope !== undefined && stored.txn.scope === opts.txnScope) unsigned["transaction_id"] = stored.txn.txnId;
  event.unsigned = unsigned;
  if (!opts.withRoomId) delete (event as Partial<ClientEvent>).room_id;
  return event;
}

export function strippedState(stored: StoredEvent): StrippedStateEvent {
  const { type, state_key: stateKey, sender, content } = stored.event;
  return { type, state_key: stateKey ?? "", sender, content: clone(content) };
}

const PREJOIN_STATE = ["m.room.create", "m.room.join_rules", "m.room.name", "m.room.canonical_alias", "m.room.avatar", "m.room.encryption", "m.room.topic"];

export function inviteState(room: Room, userId: string): StrippedStateEvent[] {
  const out: StrippedStateEvent[] = [];
  for (const type of PREJOIN_STATE) {
    const stored = room.state(type);
    if (stored) out.push(strippedState(stored));
  }
  const invite = room.state("m.room.member", userId);
  const inviter = invite ? room.state("m.room.member", invite.event.sender) : undefined;
  if (inviter && inviter !== invite) out.push(strippedState(inviter));
  if (invite) out.push(strippedState(invite));
  return out;
}

interface Section {
  body: JsonObject;
  news: boolean;
}

export function computeSync(model: HomeserverModel, req: SyncRequest): { body: JsonObject; hasNews: boolean } {
  const join: JsonObject = {};
  const invite: JsonObject = {};
  const leave: JsonObject = {};
  let hasNews = false;
  for (const room of model.rooms.values()) {
    if (!roomAllowed(req.filter, room.roomId)) continue;
    const member = room.state("m.room.member", req.userId);
    const membership = room.membership(req.userId);
    if (!member || !membership) continue;
    let section: Section | undefined;
    if (membership === "join") section = joinedRoom(model, room, req);
    else if (membership === "invite" && (req.since === undefined || member.pos > req.since)) {
      section = { body: { invite_state: { events: inviteState(room, req.userId) } }, news: true };
    } else if ((membership === "leave" || membership === "ban") && (req.since !== undefined ? member.pos > req.since : req.filter.includeLeave)) {
      section = leftRoom(model, room, req, member);
    }
    if (!section) continue;
    hasNews ||= section.news;
    const target = membership === "join" ? join : membership === "invite" ? invite : leave;
    target[room.roomId] = section.body;
  }
  const accountData = model.users.accountDataSince(req.userId, undefined, req.since);
  if (accountData.length > 0) hasNews = true;
  const toDevice = model.keys.toDevice(req.userId, req.deviceId, req.since);
  const changed = req.since !== undefined && model.keys.inUse ? deviceListChanges(model, req.userId, req.since) : [];
  if (toDevice.length > 0 || changed.length > 0) hasNews = true;
  const body: JsonObject = {
    next_batch: streamToken(model.pos),
    rooms: { join, invite, leave, knock: {} },
    account_data: { events: accountData },
    presence: { events: [] },
    to_device: { events: toDevice },
    device_lists: { changed, left: [] },
    ...(req.deviceId !== undefined
      ? {
        device_one_time_keys_count: model.keys.counts(req.userId, req.deviceId),
        device_unused_fallback_key_types: model.keys.unusedFallbackTypes(req.userId, req.deviceId),
      }
      : {}),
  };
  return { body, hasNews };
}

/** Users sharing a joined room with `userId` whose device keys changed, or who joined such a room, after `since`. */
function deviceListChanges(model: HomeserverModel, userId: string, since: number): string[] {
  const shared = new Set<string>();
  const joinedSince = new Set<string>();
  for (const room of model.rooms.values()) {
    if (room.membership(userId) !== "join") continue;
    for (const member of room.members("join")) {
      shared.add(member);
      const event = room.state("m.room.member", member);
      if (event && event.pos > since && member !== userId) joinedSince.add(member);
    }
  }
  return [...new Set([...model.keys.changedSince(shared, since), ...joinedSince])];
}

function timelineWindow(room: Room, req: SyncRequest, lower: number, upper: number): { events: StoredEvent[]; limited: boolean } {
  const candidates = room.events.filter((e) => e.pos > lower && e.pos <= upper && typeAllowed(req.filter, e.event.type));
  const limit = req.filter.timelineLimit;
  return { events: candidates.slice(-limit), limited: candidates.length > limit };
}

function joinedRoom(model: HomeserverModel, room: Room, req: SyncRequest): Section | undefined {
  const since = req.since;
  const fresh = since === undefined || room.membershipAt(req.userId, since) !== "join";
  const window = timelineWindow(room, req, fresh ? 0 : (since ?? 0), model.pos);
  const first = window.events[0]?.pos;
  let state: StoredEvent[];
  if (fresh || req.fullState) state = [...room.stateAt(first !== undefined ? first - 1 : model.pos).values()].sort((a, b) => a.pos - b.pos);
  else state = first !== undefined ? room.stateChangedBetween(since ?? 0, first) : [];
  const ephemeral = ephemeralEvents(model, room, req.userId, fresh ? undefined : since);
  const accountData = model.users.accountDataSince(req.userId, room.roomId, fresh ? undefined : since);
  const news = fresh || window.events.length > 0 || ephemeral.length > 0 || accountData.length > 0;
  if (!news && !req.fullState) return undefined;
  const opts = { txnScope: req.txnScope, withRoomId: false };
  return {
    news,
    body: {
      timeline: {
        events: window.events.map((e) => clientEvent(e, opts)),
        limited: window.limited,
        prev_batch: streamToken(first !== undefined ? first - 1 : model.pos),
      },
      state: { events: state.map((e) => clientEvent(e, opts)) },
      ephemeral: { events: ephemeral },
      account_data: { events: accountData },
    },
  };
}

function leftRoom(model: HomeserverModel, room: Room, req: SyncRequest, member: StoredEvent): Section {
  const since = req.since;
  const wasJoined = since !== undefined && room.membershipAt(req.userId, since) === "join";
  const opts = { txnScope: req.txnScope, withRoomId: false };
  if (!wasJoined) {
    const prevBatch = streamToken(member.pos - 1);
    return { news: true, body: { timeline: { events: [clientEvent(member, opts)], limited: false, prev_batch: prevBatch }, state: { events: [] }, account_data: { events: [] } } };
  }
  const window = timelineWindow(room, req, since, member.pos);
  const first = window.events[0]?.pos ?? member.pos;
  return {
    news: true,
    body: {
      timeline: { events: window.events.map((e) => clientEvent(e, opts)), limited: window.limited, prev_batch: streamToken(first - 1) },
      state: { events: room.stateChangedBetween(since, first).map((e) => clientEvent(e, opts)) },
      account_data: { events: model.users.accountDataSince(req.userId, room.roomId, since) },
    },
  };
}

function ephemeralEvents(model: HomeserverModel, room: Room, userId: string, since: number | undefined): JsonObject[] {
  const out: JsonObject[] = [];
  const typingAt = model.typingChangedAt(room.roomId);
  const typists = model.typists(room.roomId);
  if (typingAt !== undefined && (since === undefined ? typists.length > 0 : typingAt > since)) {
    out.push({ type: "m.typing", content: { user_ids: typists } });
  }
  const receipts = model.receipts.filter(
    (r) => r.roomId === room.roomId && (since === undefined || r.pos > since) && (r.type !== "m.read.private" || r.userId === userId),
  );
  if (receipts.length > 0) {
    const content: Record<string, Record<string, Record<string, JsonObject>>> = {};
    for (const r of receipts) {
      const byType = (content[r.eventId] ??= {});
      const byUser = (byType[r.type] ??= {});
      byUser[r.userId] = { ts: r.ts, ...(r.threadId !== undefined ? { thread_id: r.threadId } : {}) };
    }
    out.push({ type: "m.receipt", content });
  }
  return out;
}
