// Room write endpoints: createRoom, membership, send (idempotent per token + txnId), state, redact, aliases.
import { createRoom, parseCreateRoomBody, upgradeRoom } from "./room-create";
import type { RouteDeps } from "./route-deps";
import type { Reply, Route, RouteContext } from "./router";
import { clientRoute, me, objectBody, ok, param, stringField } from "./router";
import { txnKeyOf } from "./txn-cache";
import type { JsonObject } from "./types";
import { forbidden, MatrixHttpError, notFound } from "./types";

export function roomWriteRoutes(deps: RouteDeps): Route[] {
  const { model, actions } = deps;

  /** Replays the first successful response for the same path (txnId included) and access token (see txn-cache.ts). */
  const idempotent = async (ctx: RouteContext, run: () => JsonObject | Promise<JsonObject>): Promise<Reply> => {
    const key = txnKeyOf(ctx);
    const cached = deps.txnCache.get(key);
    if (cached !== undefined) return ok(structuredClone(cached));
    const body = await run();
    deps.txnCache.set(key, body);
    return ok(body);
  };

  const resolveRoom = (idOrAlias: string): string => {
    if (!idOrAlias.startsWith("#")) {
      if (!model.room(idOrAlias)) throw notFound(`No known servers for room ${idOrAlias}`);
      return idOrAlias;
    }
    const roomId = model.aliases.get(idOrAlias);
    if (!roomId) throw notFound(`Room alias ${idOrAlias} not found`);
    return roomId;
  };

  const join = (ctx: RouteContext, idOrAlias: string): Reply => {
    const roomId = resolveRoom(idOrAlias);
    const reason = stringField(objectBody(ctx), "reason");
    actions.membership(me(ctx).userId, roomId, me(ctx).userId, "join", reason !== undefined ? { reason } : {});
    return ok({ room_id: roomId });
  };

  const targeted = (membership: "invite" | "leave" | "ban", unbanOnly = false) => (ctx: RouteContext): Reply => {
    const body = objectBody(ctx);
    const target = stringField(body, "user_id", true);
    const reason = stringField(body, "reason");
    const roomId = param(ctx, "roomId");
    if (unbanOnly && actions.room(roomId).membership(target) !== "ban") throw forbidden(`${target} is not banned`);
    actions.membership(me(ctx).userId, roomId, target, membership, reason !== undefined ? { reason } : {});
    return ok();
  };

  const sendEvent = async (ctx: RouteContext): Promise<Reply> => {
    const reply = await idempotent(ctx, () => {
      const auth = me(ctx);
      const stored = actions.send(auth.userId, param(ctx, "roomId"), param(ctx, "eventType"), objectBody(ctx), {
        scope: auth.txnScope,
        txnId: param(ctx, "txnId"),
      });
      return { event_id: stored.event.event_id };
    });
    await deps.faults.sleep(deps.faults.sendDelayMs);
    return reply;
  };

  const putState = (ctx: RouteContext): Reply => {
    const stored = actions.setState(me(ctx).userId, param(ctx, "roomId"), param(ctx, "eventType"), param(ctx, "stateKey"), objectBody(ctx));
    return ok({ event_id: stored.event.event_id });
  };

  const redact = (ctx: RouteContext): Promise<Reply> =>
    idempotent(ctx, () => {
      const auth = me(ctx);
      const reason = stringField(objectBody(ctx), "reason");
      const stored = actions.redact(auth.userId, param(ctx, "roomId"), param(ctx, "eventId"), reason, {
        scope: auth.txnScope,
        txnId: param(ctx, "txnId"),
      });
      return { event_id: stored.event.event_id };
    });

  return [
    clientRoute("POST", "createRoom", (ctx) => {
      const roomId = createRoom(model, me(ctx).userId, parseCreateRoomBody(objectBody(ctx)), deps.defaultRoomVersion);
      return ok({ room_id: roomId });
    }),
    clientRoute("POST", "rooms/:roomId/upgrade", (ctx) => {
      const version = stringField(objectBody(ctx), "new_version", true);
      return ok({ replacement_room: upgradeRoom(model, actions, me(ctx).userId, param(ctx, "roomId"), version) });
    }),
    clientRoute("POST", "join/:roomIdOrAlias", (ctx) => join(ctx, param(ctx, "roomIdOrAlias"))),
    clientRoute("POST", "rooms/:roomId/join", (ctx) => join(ctx, param(ctx, "roomId"))),
    clientRoute("POST", "rooms/:roomId/leave", (ctx) => {
      const reason = stringField(objectBody(ctx), "reason");
      actions.membership(me(ctx).userId, param(ctx, "roomId"), me(ctx).userId, "leave", reason !== undefined ? { reason } : {});
      return ok();
    }),
    clientRoute("POST", "rooms/:roomId/forget", (ctx) => {
      const membership = actions.room(param(ctx, "roomId")).membership(me(ctx).userId);
      if (membership === "join" || membership === "invite") throw new MatrixHttpError(400, "M_UNKNOWN", "User must leave the room first");
      return ok();
    }),
    clientRoute("POST", "rooms/:roomId/invite", targeted("invite")),
    clientRoute("POST", "rooms/:roomId/kick", targeted("leave")),
    clientRoute("POST", "rooms/:roomId/ban", targeted("ban")),
    clientRoute("POST", "rooms/:roomId/unban", targeted("leave", true)),
    clientRoute("PUT", "rooms/:roomId/send/:eventType/:txnId", sendEvent),
    clientRoute("PUT", "rooms/:roomId/state/:eventType", putState),
    clientRoute("PUT", "rooms/:roomId/state/:eventType/:stateKey", putState),
    clientRoute("PUT", "rooms/:roomId/redact/:eventId/:txnId", redact),
    clientRoute("POST", "rooms/:roomId/redact/:eventId/:txnId", redact),
    clientRoute("GET", "directory/room/:alias", (ctx) => {
      const roomId = model.aliases.get(param(ctx, "alias"));
      if (!roomId) throw notFound(`Room alias ${param(ctx, "alias")} not found`);
      return ok({ room_id: roomId, servers: [model.serverName] });
    }),
    clientRoute("PUT", "directory/room/:alias", (ctx) => {
      const alias = param(ctx, "alias");
      const roomId = stringField(objectBody(ctx), "room_id", true);
      if (model.aliases.has(alias)) throw new MatrixHttpError(409, "M_UNKNOWN", `Room alias ${alias} already exists`);
      actions.room(roomId);
      model.aliases.set(alias, roomId);
      return ok();
    }),
    clientRoute("DELETE", "directory/room/:alias", (ctx) => {
      if (!model.aliases.delete(param(ctx, "alias"))) throw notFound("Room alias not found");
      return ok();
    }),
  ];
}
