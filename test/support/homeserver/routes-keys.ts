// E2EE endpoints: keys/upload, keys/query, keys/claim, sendToDevice (idempotent per token + txnId), and the
// read a real encrypting client (matrix-js-sdk) makes at start: push rules,
// answered as an empty rule set (matrix-js-sdk retries its start-up until it gets them).
import type { RouteDeps } from "./route-deps";
import type { Route } from "./router";
import { clientRoute, me, objectBody, ok, param } from "./router";
import { txnKeyOf } from "./txn-cache";
import { isJsonObject, MatrixHttpError } from "./types";

export function keyRoutes(deps: RouteDeps): Route[] {
  const keys = deps.model.keys;
  const requireDevice = (deviceId: string | undefined): string => {
    if (deviceId === undefined) throw new MatrixHttpError(400, "M_UNKNOWN", "This access token has no device");
    return deviceId;
  };
  return [
    clientRoute("POST", "keys/upload", (ctx) => {
      const auth = me(ctx);
      return ok({ one_time_key_counts: keys.upload(auth.userId, requireDevice(auth.deviceId), objectBody(ctx)) });
    }),
    clientRoute("POST", "keys/query", (ctx) => {
      const body = objectBody(ctx);
      if (!isJsonObject(body["device_keys"])) throw new MatrixHttpError(400, "M_BAD_JSON", "device_keys must be an object");
      return ok(keys.query(body["device_keys"], me(ctx).userId));
    }),
    clientRoute("POST", "keys/claim", (ctx) => {
      const body = objectBody(ctx);
      if (!isJsonObject(body["one_time_keys"])) throw new MatrixHttpError(400, "M_BAD_JSON", "one_time_keys must be an object");
      return ok(keys.claim(body["one_time_keys"]));
    }),
    clientRoute("PUT", "sendToDevice/:eventType/:txnId", (ctx) => {
      const auth = me(ctx);
      const cacheKey = txnKeyOf(ctx);
      if (deps.txnCache.get(cacheKey) !== undefined) return ok({});
      const body = objectBody(ctx);
      if (!isJsonObject(body["messages"])) throw new MatrixHttpError(400, "M_BAD_JSON", "messages must be an object");
      keys.send(auth.userId, param(ctx, "eventType"), body["messages"]);
      deps.txnCache.set(cacheKey, {});
      return ok({});
    }),
    clientRoute("GET", "pushrules/", () => ok({ global: { override: [], content: [], room: [], sender: [], underride: [] } })),
  ];
}
