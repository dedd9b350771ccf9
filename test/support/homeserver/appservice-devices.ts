// Devices of appservice users: device masquerading (MSC3202's `org.matrix.msc3202.device_id`, MSC4326's
// `device_id`), the device endpoints with MSC4190's appservice device management, and whether
// `m.login.application_service` is still offered (not under MAS: M_APPSERVICE_LOGIN_UNSUPPORTED).
import type { DeviceRegistry } from "./devices";
import { InteractiveAuth } from "./routes-trust";
import type { RouteDeps } from "./route-deps";
import type { Route } from "./router";
import { clientRoute, me, objectBody, ok, param, stringField } from "./router";
import type { AppserviceE2eeOptions } from "./types";
import { MatrixHttpError, notFound } from "./types";

/** The options with their defaults filled in (Synapse 1.67 with its experimental flags on). */
export type E2eeDialect = Required<AppserviceE2eeOptions>;

export function e2eeDialect(options: AppserviceE2eeOptions | undefined): E2eeDialect {
  return { fields: "synapse-1.67", deviceMasquerading: true, deviceManagement: false, login: true, ...options };
}

export const UNSTABLE_DEVICE_PARAM = "org.matrix.msc3202.device_id";

/**
 * The device an appservice request acts as, for the user it acts as. Synapse 1.67 reads only the unstable query
 * parameter and answers an unknown device with 400 M_EXCLUSIVE; MSC4326 adds `device_id` and M_UNKNOWN_DEVICE.
 * Without masquerading support the parameters are ignored (as Synapse does with its flag off).
 */
export function masqueradedDevice(devices: DeviceRegistry, query: URLSearchParams, userId: string, dialect: E2eeDialect):
  { deviceId?: string; error?: MatrixHttpError } {
  if (!dialect.deviceMasquerading) return {};
  const stable = dialect.fields === "stable" ? query.get("device_id") ?? undefined : undefined;
  const unstable = query.get(UNSTABLE_DEVICE_PARAM) ?? undefined;
  if (stable !== undefined && unstable !== undefined && stable !== unstable) {
    return { error: new MatrixHttpError(400, "M_INVALID_PARAM", "device_id and org.matrix.msc3202.device_id differ") };
  }
  const deviceId = stable ?? unstable;
  if (deviceId === undefined) return {};
  if (devices.has(userId, deviceId)) return { deviceId };
  const text = `Application service trying to use a device that doesn't exist ('${deviceId}' for ${userId})`;
  return { error: new MatrixHttpError(400, dialect.fields === "stable" ? "M_UNKNOWN_DEVICE" : "M_EXCLUSIVE", text) };
}

/** Refuses `m.login.application_service` where the homeserver no longer offers it (MSC4190, under MAS). */
export function checkAppserviceLogin(dialect: E2eeDialect): void {
  if (!dialect.login) {
    throw new MatrixHttpError(400, "M_APPSERVICE_LOGIN_UNSUPPORTED", "Application service login is not supported; use PUT /devices/{deviceId}");
  }
}

/** GET/PUT/DELETE /devices(/{deviceId}), with MSC4190: an appservice creates (201) and deletes its users' devices. */
export function deviceRoutes(deps: RouteDeps, dialect: E2eeDialect): Route[] {
  const devices = deps.model.users.devices;
  const uia = new InteractiveAuth(deps);
  const asDevice = (userId: string, deviceId: string) => {
    const device = devices.get(userId, deviceId);
    if (!device) throw notFound("Unknown device");
    return { device_id: device.deviceId, ...(device.displayName !== undefined ? { display_name: device.displayName } : {}) };
  };
  const managesDevices = (appserviceId: string | undefined): boolean => appserviceId !== undefined && dialect.deviceManagement;
  return [
    clientRoute("GET", "devices", (ctx) => {
      const { userId } = me(ctx);
      return ok({ devices: devices.list(userId).map((id) => asDevice(userId, id)) });
    }),
    clientRoute("GET", "devices/:deviceId", (ctx) => ok(asDevice(me(ctx).userId, param(ctx, "deviceId")))),
    clientRoute("PUT", "devices/:deviceId", (ctx) => {
      const auth = me(ctx);
      const deviceId = param(ctx, "deviceId");
      const displayName = stringField(objectBody(ctx), "display_name");
      if (devices.has(auth.userId, deviceId)) {
        devices.setDisplayName(auth.userId, deviceId, displayName);
        return ok();
      }
      if (!managesDevices(auth.appserviceId)) throw notFound("Unknown device");
      devices.add(auth.userId, deviceId, displayName);
      return { status: 201, body: {} };
    }),
    clientRoute("DELETE", "devices/:deviceId", (ctx) => {
      const auth = me(ctx);
      // A person's own device goes after user-interactive auth (routes-trust.ts), with its tokens and keys.
      if (!managesDevices(auth.appserviceId)) uia.require(ctx, objectBody(ctx));
      const deviceId = param(ctx, "deviceId");
      if (!devices.remove(auth.userId, deviceId)) throw notFound("Unknown device");
      deps.model.users.revokeDevice(auth.userId, deviceId);
      deps.model.keys.removeDevice(auth.userId, deviceId);
      return ok();
    }),
  ];
}
