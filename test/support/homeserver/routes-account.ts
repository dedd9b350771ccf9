// Account endpoints: versions, login/logout, appservice register, whoami, profile, filters, account data.
import { checkAppserviceLogin } from "./appservice-devices";
import type { RouteDeps } from "./route-deps";
import type { Route, RouteContext } from "./router";
import { clientRoute, me, objectBody, ok, param, rawRoute, stringField } from "./router";
import type { JsonObject } from "./types";
import { forbidden, isJsonObject, MatrixHttpError, notFound } from "./types";

const VERSIONS_BEFORE_1_11 = ["r0.5.0", "r0.6.0", "r0.6.1", "v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10"];
const VERSIONS = ["r0.5.0", "r0.6.0", "r0.6.1", "v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11", "v1.12"];

function requireSelf(ctx: RouteContext, what: string): string {
  const userId = param(ctx, "userId");
  if (me(ctx).userId !== userId) throw forbidden(`Cannot ${what} for other users`);
  return userId;
}

export function accountRoutes(deps: RouteDeps): Route[] {
  const { model } = deps;
  const users = model.users;

  const login = (ctx: RouteContext) => {
    const body = objectBody(ctx);
    const type = stringField(body, "type", true);
    const identifier = isJsonObject(body["identifier"]) ? body["identifier"] : undefined;
    const who = (identifier && typeof identifier["user"] === "string" ? identifier["user"] : undefined) ?? stringField(body, "user");
    if (identifier && identifier["type"] !== "m.id.user") throw new MatrixHttpError(400, "M_UNKNOWN", "Unknown identifier type");
    if (!who) throw new MatrixHttpError(400, "M_MISSING_PARAM", "Missing identifier user");
    const userId = users.userIdFor(who);
    const deviceId = stringField(body, "device_id");
    if (type === "m.login.password") {
      const user = users.get(userId);
      const password = stringField(body, "password");
      if (!user || user.password === undefined || user.password !== password) throw forbidden("Invalid username or password");
    } else if (type === "m.login.application_service") {
      checkAppserviceLogin(deps.appserviceE2ee);
      const auth = ctx.auth;
      const link = auth?.appserviceId !== undefined ? deps.appservices.get(auth.appserviceId) : undefined;
      if (!link) throw new MatrixHttpError(401, "M_MISSING_TOKEN", "Missing appservice access token");
      if (!link.ownsUser(userId)) throw new MatrixHttpError(400, "M_EXCLUSIVE", "User is not in the appservice's namespace");
      if (!users.get(userId)) users.create(userId, { appserviceId: link.id });
    } else {
      throw new MatrixHttpError(400, "M_UNKNOWN", "Unknown login type");
    }
    const issued = users.issueToken(userId, deviceId);
    return ok({ user_id: userId, access_token: issued.accessToken, device_id: issued.deviceId, home_server: model.serverName });
  };

  const register = (ctx: RouteContext) => {
    const body = objectBody(ctx);
    const link = ctx.auth?.appserviceId !== undefined ? deps.appservices.get(ctx.auth.appserviceId) : undefined;
    if (body["type"] !== "m.login.application_service" || !link) throw forbidden("Registration has been disabled");
    const username = stringField(body, "username", true);
    const userId = users.userIdFor(username.toLowerCase());
    if (!link.ownsUser(userId)) throw new MatrixHttpError(400, "M_EXCLUSIVE", "Invalid username for this application service");
    // Synapse's check_user_id_not_appservice_exclusive: another appservice's exclusive namespace is not ours to take.
    if ([...deps.appservices.values()].some((other) => other !== link && other.reservesUser(userId))) {
      throw new MatrixHttpError(400, "M_EXCLUSIVE", "This user ID is reserved by an application service.");
    }
    users.create(userId, { appserviceId: link.id });
    if (body["inhibit_login"] === true) return ok({ user_id: userId, home_server: model.serverName });
    const issued = users.issueToken(userId, stringField(body, "device_id"));
    return ok({ user_id: userId, access_token: issued.accessToken, device_id: issued.deviceId, home_server: model.serverName });
  };

  const profileField = (field: "displayname" | "avatar_url") => [
    clientRoute(
      "GET",
      `profile/:userId/${field}`,
      (ctx) => {
        const user = users.get(param(ctx, "userId"));
        const value = field === "displayname" ? user?.displayName : user?.avatarUrl;
        if (value === undefined) throw notFound("Profile was not found");
        return ok({ [field]: value });
      },
      { auth: false },
    ),
    clientRoute("PUT", `profile/:userId/${field}`, (ctx) => {
      const userId = requireSelf(ctx, "set the profile");
      const value = stringField(objectBody(ctx), field);
      if (field === "displayname") deps.actions.setDisplayName(userId, value);
      else {
        const user = users.require(userId);
        if (value === undefined) delete user.avatarUrl;
        else user.avatarUrl = value;
      }
      return ok();
    }),
  ];

  const accountData = (roomScoped: boolean) => {
    const prefix = roomScoped ? "user/:userId/rooms/:roomId/account_data/:type" : "user/:userId/account_data/:type";
    const roomOf = (ctx: RouteContext): string | undefined => (roomScoped ? param(ctx, "roomId") : undefined);
    return [
      clientRoute("GET", prefix, (ctx) => {
        const userId = requireSelf(ctx, "get account data");
        const entry = users.getAccountData(userId, roomOf(ctx), param(ctx, "type"));
        if (!entry) throw notFound("Account data not found");
        return ok(structuredClone(entry.content));
      }),
      clientRoute("PUT", prefix, (ctx) => {
        const userId = requireSelf(ctx, "add account data");
        const body: JsonObject = objectBody(ctx);
        model.setAccountData(userId, roomOf(ctx), param(ctx, "type"), body);
        return ok();
      }),
    ];
  };

  return [
    rawRoute("GET", "/_matrix/client/versions", () => ok({ versions: deps.authenticatedMedia ? VERSIONS : VERSIONS_BEFORE_1_11, unstable_features: {} }), { auth: false }),
    clientRoute("GET", "capabilities", () =>
      ok({
        capabilities: {
          "m.room_versions": { default: deps.defaultRoomVersion, available: { "10": "stable", "11": "stable", "12": "stable" } },
          "m.change_password": { enabled: false },
          "m.set_displayname": { enabled: true },
        },
      }),
    ),
    clientRoute("GET", "login", () => ok({ flows: [{ type: "m.login.password" },
      ...(deps.appserviceE2ee.login ? [{ type: "m.login.application_service" }] : [])] }), { auth: false }),
    clientRoute("POST", "login", login, { auth: false }),
    clientRoute("POST", "logout", (ctx) => {
      users.revoke(me(ctx).accessToken);
      return ok();
    }),
    clientRoute("POST", "register", register, { auth: false }),
    // Synapse's check_username: a name in an appservice's exclusive namespace is nobody else's (M_EXCLUSIVE).
    clientRoute("GET", "register/available", (ctx) => {
      const username = ctx.query.get("username");
      if (!username) throw new MatrixHttpError(400, "M_MISSING_PARAM", "Missing username");
      const userId = users.userIdFor(username.toLowerCase());
      if ([...deps.appservices.values()].some((link) => link.reservesUser(userId))) {
        throw new MatrixHttpError(400, "M_EXCLUSIVE", "This user ID is reserved by an application service.");
      }
      if (users.get(userId)) throw new MatrixHttpError(400, "M_USER_IN_USE", "User ID already taken.");
      return ok({ available: true });
    }, { auth: false }),
    clientRoute("GET", "account/whoami", (ctx) => {
      const auth = me(ctx);
      return ok({ user_id: auth.userId, is_guest: false, ...(auth.deviceId !== undefined ? { device_id: auth.deviceId } : {}) });
    }),
    clientRoute(
      "GET",
      "profile/:userId",
      (ctx) => {
        const user = users.get(param(ctx, "userId"));
        if (!user) throw notFound("Profile was not found");
        return ok({
          ...(user.displayName !== undefined ? { displayname: user.displayName } : {}),
          ...(user.avatarUrl !== undefined ? { avatar_url: user.avatarUrl } : {}),
        });
      },
      { auth: false },
    ),
    ...profileField("displayname"),
    ...profileField("avatar_url"),
    clientRoute("POST", "user/:userId/filter", (ctx) => {
      const userId = requireSelf(ctx, "create filters");
      return ok({ filter_id: users.addFilter(userId, objectBody(ctx)) });
    }),
    clientRoute("GET", "user/:userId/filter/:filterId", (ctx) => {
      const userId = requireSelf(ctx, "get filters");
      const filter = users.filter(userId, param(ctx, "filterId"));
      if (!filter) throw notFound("No such filter");
      return ok(structuredClone(filter));
    }),
    ...accountData(false),
    ...accountData(true),
  ];
}
