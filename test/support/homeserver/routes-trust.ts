// Cross-signing and key backup endpoints: POST /keys/device_signing/upload behind user-interactive auth (as Synapse
// 1.67: a 401 with `flows` and a `session`, then m.login.password; an appservice's token cannot do it at all: Synapse
// 1.67 answers 500, its requester has no access token id), POST /keys/signatures/upload, and /room_keys/*.
// `firstUploadWithoutAuth` plays a homeserver with MSC3967: the first upload of a user's keys needs no auth.
import { randomBytes } from "node:crypto";
import { KeyBackups } from "./key-backup";
import type { RouteDeps } from "./route-deps";
import type { Route, RouteContext } from "./router";
import { clientRoute, me, objectBody, ok, param } from "./router";
import type { JsonObject } from "./types";
import { forbidden, isJsonObject, MatrixHttpError } from "./types";

export interface TrustRouteOptions {
  /** MSC3967: no user-interactive auth for a user's first cross-signing key upload. Default false (Synapse 1.67). */
  firstUploadWithoutAuth?: boolean;
}

/** The 401 of user-interactive auth: the flows and the session, and the error of a failed stage if any. */
class AuthChallenge extends MatrixHttpError {
  constructor(private readonly challenge: JsonObject) {
    super(401, typeof challenge["errcode"] === "string" ? challenge["errcode"] : "", typeof challenge["error"] === "string" ? challenge["error"] : "auth needed");
  }

  override body(): JsonObject {
    return { ...this.challenge };
  }
}

/** User-interactive auth as Synapse 1.67 runs it for a password user (sessions live as long as the double). */
export class InteractiveAuth {
  private readonly sessions = new Map<string, { userId: string; completed: boolean }>();

  constructor(private readonly deps: RouteDeps) {}

  /** Throws the 401 to send, or returns when `body.auth` completes a flow for the requester. */
  require(ctx: RouteContext, body: JsonObject): void {
    const auth = me(ctx);
    if (auth.appserviceId !== undefined) {
      // Synapse 1.67 validate_user_via_ui_auth: "Cannot validate a user without an access token" (a ValueError).
      throw new MatrixHttpError(500, "M_UNKNOWN", "Internal server error");
    }
    const user = this.deps.model.users.get(auth.userId);
    const flows = user?.password !== undefined ? [{ stages: ["m.login.password"] }] : [];
    const given = isJsonObject(body["auth"]) ? body["auth"] : undefined;
    const sessionId = typeof given?.["session"] === "string" ? given["session"] : undefined;
    const challenge = (id: string, extra: JsonObject = {}): MatrixHttpError =>
      new AuthChallenge({ ...extra, session: id, flows, params: {}, completed: [] });
    if (!given || sessionId === undefined) {
      const id = randomBytes(12).toString("base64url");
      this.sessions.set(id, { userId: auth.userId, completed: false });
      throw challenge(id);
    }
    const session = this.sessions.get(sessionId);
    if (!session) throw new MatrixHttpError(400, "M_UNKNOWN", "Unknown session ID");
    if (session.userId !== auth.userId) throw forbidden("Invalid auth");
    if (given["type"] !== "m.login.password") throw challenge(sessionId, { errcode: "M_UNRECOGNIZED", error: "Unrecognised login type" });
    const identifier = isJsonObject(given["identifier"]) ? given["identifier"] : undefined;
    const who = typeof identifier?.["user"] === "string" ? this.deps.model.users.userIdFor(identifier["user"]) : undefined;
    if (who !== auth.userId || user?.password === undefined || given["password"] !== user.password) {
      throw challenge(sessionId, { errcode: "M_FORBIDDEN", error: "Invalid password" });
    }
    this.sessions.delete(sessionId);
  }
}

export function trustRoutes(deps: RouteDeps, opts: TrustRouteOptions = {}): Route[] {
  const keys = deps.model.keys;
  const backups = new KeyBackups();
  const uia = new InteractiveAuth(deps);
  const version = (ctx: RouteContext): string | undefined => ctx.query.get("version") ?? undefined;
  return [
    clientRoute("POST", "keys/device_signing/upload", (ctx) => {
      const auth = me(ctx);
      const body = objectBody(ctx);
      if (!(opts.firstUploadWithoutAuth === true && !keys.crossSigning.has(auth.userId) && auth.appserviceId === undefined)) uia.require(ctx, body);
      keys.crossSigning.upload(auth.userId, body);
      return ok({});
    }),
    clientRoute("POST", "keys/signatures/upload", (ctx) => ok(keys.uploadSignatures(me(ctx).userId, objectBody(ctx)))),
    clientRoute("POST", "room_keys/version", (ctx) => ok({ version: backups.create(me(ctx).userId, objectBody(ctx)) })),
    clientRoute("GET", "room_keys/version", (ctx) => ok(backups.info(me(ctx).userId))),
    clientRoute("GET", "room_keys/version/:version", (ctx) => ok(backups.info(me(ctx).userId, param(ctx, "version")))),
    clientRoute("PUT", "room_keys/version/:version", (ctx) => {
      backups.update(me(ctx).userId, param(ctx, "version"), objectBody(ctx));
      return ok({});
    }),
    clientRoute("DELETE", "room_keys/version/:version", (ctx) => {
      backups.remove(me(ctx).userId, param(ctx, "version"));
      return ok({});
    }),
    clientRoute("PUT", "room_keys/keys", (ctx) => ok(backups.put(me(ctx).userId, version(ctx), objectBody(ctx)))),
    clientRoute("PUT", "room_keys/keys/:roomId", (ctx) =>
      ok(backups.put(me(ctx).userId, version(ctx), { rooms: { [param(ctx, "roomId")]: objectBody(ctx) } }))),
    clientRoute("PUT", "room_keys/keys/:roomId/:sessionId", (ctx) =>
      ok(backups.put(me(ctx).userId, version(ctx), { rooms: { [param(ctx, "roomId")]: { sessions: { [param(ctx, "sessionId")]: objectBody(ctx) } } } }))),
    clientRoute("GET", "room_keys/keys", (ctx) => ok(backups.get(me(ctx).userId, version(ctx)))),
    clientRoute("GET", "room_keys/keys/:roomId", (ctx) => ok(backups.get(me(ctx).userId, version(ctx), param(ctx, "roomId")))),
    clientRoute("GET", "room_keys/keys/:roomId/:sessionId", (ctx) =>
      ok(backups.get(me(ctx).userId, version(ctx), param(ctx, "roomId"), param(ctx, "sessionId")))),
  ];
}
