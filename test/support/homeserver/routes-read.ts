// Read endpoints and ephemeral writes: /sync (long-poll), state, members, event, messages, context,
// typing, receipts, read markers, joined_rooms.
import type { Room } from "./room";
import type { RouteDeps } from "./route-deps";
import type { Reply, Route, RouteContext } from "./router";
import { clientRoute, me, objectBody, ok, param } from "./router";
import type { JsonObject } from "./types";
import { forbidden, invalidParam, isJsonObject, MatrixHttpError, notFound } from "./types";
import { clientEvent, computeSync, parseFilter, parseStreamToken, streamToken } from "./sync";

const RECEIPT_TYPES = new Set(["m.read", "m.read.private", "m.fully_read"]);

function parseJsonParam(text: string | null): JsonObject | undefined {
  if (text === null) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    if (!isJsonObject(value)) throw invalidParam("filter must be a JSON object");
    return value;
  } catch (error) {
    if (error instanceof MatrixHttpError) throw error;
    throw invalidParam("filter is not valid JSON");
  }
}

export function readRoutes(deps: RouteDeps): Route[] {
  const { model, actions } = deps;

  /** Highest stream position the user may read in this room: all while joined, up to leaving after. */
  const visibleUpTo = (room: Room, userId: string): number => {
    const membership = room.membership(userId);
    if (membership === "join") return model.pos;
    if (membership === "leave" || membership === "ban") {
      const member = room.state("m.room.member", userId);
      if (member && room.events.some((e) => e.pos < member.pos && room.membershipAt(userId, e.pos) === "join")) return member.pos;
    }
    throw forbidden(`User ${userId} not in room ${room.roomId}`);
  };

  const sync = async (ctx: RouteContext): Promise<Reply> => {
    const auth = me(ctx);
    const sinceText = ctx.query.get("since");
    const since = sinceText !== null && sinceText !== "" ? parseStreamToken(sinceText, model.pos) : undefined;
    const filterText = ctx.query.get("filter");
    let rawFilter: JsonObject | undefined;
    if (filterText !== null && filterText.trim().startsWith("{")) rawFilter = parseJsonParam(filterText);
    else if (filterText !== null && filterText !== "") {
      rawFilter = model.users.filter(auth.userId, filterText);
      if (!rawFilter) throw invalidParam(`No such filter ${filterText}`);
    }
    const filter = parseFilter(rawFilter, deps.defaultTimelineLimit);
    const fullState = ctx.query.get("full_state") === "true";
    const timeoutMs = Math.max(0, Number(ctx.query.get("timeout") ?? "0") || 0);
    const deadline = Date.now() + timeoutMs;
    const request = {
      userId: auth.userId, filter, fullState, txnScope: auth.txnScope,
      ...(since !== undefined ? { since } : {}), ...(auth.deviceId !== undefined ? { deviceId: auth.deviceId } : {}),
    };
    for (;;) {
      const result = computeSync(model, request);
      const remaining = deadline - Date.now();
      if (result.hasNews || since === undefined || fullState || remaining <= 0 || ctx.res.destroyed) return ok(result.body);
      let onClose: (() => void) | undefined;
      const reason = await model.waitForChange(remaining, (abort) => {
        onClose = abort;
        ctx.res.once("close", abort);
      });
      if (onClose) ctx.res.off("close", onClose);
      if (reason === "abort") return ok({});
      if (reason === "closed") return ok(computeSync(model, request).body);
    }
  };

  const getState = (ctx: RouteContext): Reply => {
    const room = actions.room(param(ctx, "roomId"));
    const upTo = visibleUpTo(room, me(ctx).userId);
    const stored = room.stateAt(upTo).get(`${param(ctx, "eventType")}\u0000${param(ctx, "stateKey")}`);
    if (!stored) throw notFound("Event not found.");
    if (ctx.query.get("format") === "event") return ok(clientEvent(stored, { withRoomId: true }));
    return ok(structuredClone(stored.event.content));
  };

  const messages = (ctx: RouteContext): Reply => {
    const auth = me(ctx);
    const room = actions.room(param(ctx, "roomId"));
    const upTo = visibleUpTo(room, auth.userId);
    const dir = ctx.query.get("dir") ?? "b";
    if (dir !== "b" && dir !== "f") throw invalidParam("dir must be b or f");
    const fromText = ctx.query.get("from");
    const from = fromText ? parseStreamToken(fromText, model.pos) : dir === "b" ? model.pos : 0;
    const toText = ctx.query.get("to");
    const to = toText ? parseStreamToken(toText, model.pos) : undefined;
    const filter = parseFilter({ room: { timeline: parseJsonParam(ctx.query.get("filter")) ?? {} } }, Number.MAX_SAFE_INTEGER);
    const limitParam = Number(ctx.query.get("limit") ?? "10");
    const limit = Math.min(1000, Number.isFinite(limitParam) && limitParam > 0 ? Math.floor(limitParam) : 10);
    const allowed = (type: string): boolean =>
      !filter.notTypes?.some((p) => (p.endsWith("*") ? type.startsWith(p.slice(0, -1)) : p === type)) &&
      (filter.types === undefined || filter.types.some((p) => (p.endsWith("*") ? type.startsWith(p.slice(0, -1)) : p === type)));
    let range = room.events.filter((e) => e.pos <= upTo);
    range = dir === "b" ? range.filter((e) => e.pos <= from && (to === undefined || e.pos > to)).reverse() : range.filter((e) => e.pos > from && (to === undefined || e.pos <= to));
    const matching = range.filter((e) => allowed(e.event.type));
    const chunk = matching.slice(0, limit);
    const last = chunk[chunk.length - 1];
    const body: JsonObject = { chunk: chunk.map((e) => clientEvent(e, { txnScope: auth.txnScope, withRoomId: true })), start: streamToken(from) };
    if (last && matching.length > limit) body["end"] = streamToken(dir === "b" ? last.pos - 1 : last.pos);
    return ok(body);
  };

  const context = (ctx: RouteContext): Reply => {
    const auth = me(ctx);
    const room = actions.room(param(ctx, "roomId"));
    const upTo = visibleUpTo(room, auth.userId);
    const target = room.event(param(ctx, "eventId"));
    if (!target || target.pos > upTo) throw notFound("Event not found.");
    const limit = Math.max(0, Number(ctx.query.get("limit") ?? "10") || 0);
    const opts = { txnScope: auth.txnScope, withRoomId: true };
    const before = room.events.filter((e) => e.pos < target.pos).slice(-Math.ceil(limit / 2)).reverse();
    const after = room.events.filter((e) => e.pos > target.pos && e.pos <= upTo).slice(0, Math.floor(limit / 2));
    return ok({
      event: clientEvent(target, opts),
      events_before: before.map((e) => clientEvent(e, opts)),
      events_after: after.map((e) => clientEvent(e, opts)),
      start: streamToken((before[before.length - 1]?.pos ?? target.pos) - 1),
      end: streamToken(after[after.length - 1]?.pos ?? target.pos),
      state: [...room.stateAt(target.pos).values()].map((e) => clientEvent(e, opts)),
    });
  };

  const receipt = (roomId: string, userId: string, type: string, eventId: string, threadId?: string): void => {
    if (!RECEIPT_TYPES.has(type)) throw invalidParam(`Receipt type ${type} is not supported`);
    const room = actions.room(roomId);
    if (room.membership(userId) !== "join") throw forbidden(`User ${userId} not in room ${roomId}`);
    if (!room.event(eventId)) throw notFound("Event not found.");
    if (type === "m.fully_read") model.setAccountData(userId, roomId, "m.fully_read", { event_id: eventId });
    model.addReceipt({ roomId, userId, eventId, type, ...(threadId !== undefined ? { threadId } : {}) });
  };

  return [
    clientRoute("GET", "sync", sync),
    clientRoute("GET", "joined_rooms", (ctx) =>
      ok({ joined_rooms: [...model.rooms.values()].filter((r) => r.membership(me(ctx).userId) === "join").map((r) => r.roomId) }),
    ),
    clientRoute("GET", "rooms/:roomId/state", (ctx) => {
      const room = actions.room(param(ctx, "roomId"));
      const upTo = visibleUpTo(room, me(ctx).userId);
      return ok([...room.stateAt(upTo).values()].sort((a, b) => a.pos - b.pos).map((e) => clientEvent(e, { withRoomId: true })));
    }),
    clientRoute("GET", "rooms/:roomId/state/:eventType", getState),
    clientRoute("GET", "rooms/:roomId/state/:eventType/:stateKey", getState),
    clientRoute("GET", "rooms/:roomId/members", (ctx) => {
      const room = actions.room(param(ctx, "roomId"));
      const upTo = visibleUpTo(room, me(ctx).userId);
      const only = ctx.query.get("membership");
      const not = ctx.query.get("not_membership");
      const members = [...room.stateAt(upTo).values()].filter((e) => e.event.type === "m.room.member");
      const chunk = members.filter((e) => (only === null || e.event.content["membership"] === only) && (not === null || e.event.content["membership"] !== not));
      return ok({ chunk: chunk.map((e) => clientEvent(e, { withRoomId: true })) });
    }),
    clientRoute("GET", "rooms/:roomId/joined_members", (ctx) => {
      const room = actions.room(param(ctx, "roomId"));
      if (room.membership(me(ctx).userId) !== "join") throw forbidden(`User ${me(ctx).userId} not in room ${room.roomId}`);
      const joined: JsonObject = {};
      for (const userId of room.members("join")) {
        const content = room.state("m.room.member", userId)?.event.content ?? {};
        joined[userId] = { display_name: content["displayname"] ?? null, avatar_url: content["avatar_url"] ?? null };
      }
      return ok({ joined });
    }),
    clientRoute("GET", "rooms/:roomId/event/:eventId", (ctx) => {
      const room = actions.room(param(ctx, "roomId"));
      const upTo = visibleUpTo(room, me(ctx).userId);
      const stored = room.event(param(ctx, "eventId"));
      if (!stored || stored.pos > upTo) throw notFound("Event not found.");
      return ok(clientEvent(stored, { txnScope: me(ctx).txnScope, withRoomId: true }));
    }),
    clientRoute("GET", "rooms/:roomId/messages", messages),
    clientRoute("GET", "rooms/:roomId/context/:eventId", context),
    clientRoute("PUT", "rooms/:roomId/typing/:userId", (ctx) => {
      const userId = param(ctx, "userId");
      if (userId !== me(ctx).userId) throw forbidden("Cannot set another user's typing state");
      const room = actions.room(param(ctx, "roomId"));
      if (room.membership(userId) !== "join") throw forbidden(`User ${userId} not in room ${room.roomId}`);
      const body = objectBody(ctx);
      if (typeof body["typing"] !== "boolean") throw new MatrixHttpError(400, "M_BAD_JSON", "typing must be a boolean");
      const timeout = typeof body["timeout"] === "number" ? body["timeout"] : undefined;
      model.setTyping(room.roomId, userId, body["typing"], timeout);
      return ok();
    }),
    clientRoute("POST", "rooms/:roomId/receipt/:receiptType/:eventId", (ctx) => {
      const threadId = objectBody(ctx)["thread_id"];
      receipt(param(ctx, "roomId"), me(ctx).userId, param(ctx, "receiptType"), param(ctx, "eventId"), typeof threadId === "string" ? threadId : undefined);
      return ok();
    }),
    clientRoute("POST", "rooms/:roomId/read_markers", (ctx) => {
      const body = objectBody(ctx);
      for (const type of ["m.fully_read", "m.read", "m.read.private"]) {
        const eventId = body[type];
        if (typeof eventId === "string") receipt(param(ctx, "roomId"), me(ctx).userId, type, eventId);
      }
      return ok();
    }),
  ];
}
