// The HTTP side: node:http on 127.0.0.1, request recording, token auth (Bearer header or legacy
// access_token query; appservice as_token with ?user_id= masquerading), scripted faults, dispatch.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { AppserviceLink } from "./appservice";
import { masqueradedDevice, type E2eeDialect } from "./appservice-devices";
import type { FaultReply, Faults } from "./faults";
import { faultBody } from "./faults";
import { USER_ID_RE } from "./ids";
import type { HomeserverModel } from "./model";
import type { AuthContext, Route, RouteContext } from "./router";
import { matchRoute, safeDecode } from "./router";
import type { RequestRecord } from "./types";
import { forbidden, MatrixHttpError } from "./types";

export interface ServerDeps {
  model: HomeserverModel;
  faults: Faults;
  appservices: Map<string, AppserviceLink>;
  requests: RequestRecord[];
  routes: Route[];
  maxBodyBytes: number;
  /** Device masquerading for appservices (MSC3202 / MSC4326). */
  appserviceE2ee: E2eeDialect;
  /** Benchmark instrumentation (Homeserver.observe). */
  onRequest?: (record: RequestRecord) => void;
}

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

const SEND_PATH = /\/_matrix\/client\/[^/]+\/rooms\/[^/]+\/send\//;

export async function startHttpServer(deps: ServerDeps): Promise<RunningServer> {
  const server: Server = createServer((req, res) => {
    handle(deps, req, res).catch((error: unknown) => {
      // handle() answers every error itself; this is a last resort that must never throw.
      if (!res.headersSent && !res.destroyed) writeJson(res, 500, { errcode: "M_UNKNOWN", error: String(error) });
    });
  });
  // Clients honour the `Keep-Alive: timeout=N` hint minus a second: with 1 s, fetch and node's agents closed
  // every connection after one request (a new TCP connection per request, on both sides). close() cuts idle ones.
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(deps: ServerDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = (req.method ?? "GET").toUpperCase();
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  const rawPath = url.pathname;
  const path = safeDecode(rawPath);
  const query: Record<string, string[]> = {};
  for (const [key, value] of url.searchParams) (query[key] ??= []).push(value);
  const record: RequestRecord = { method, path, query, at: Date.now() };
  deps.requests.push(record);
  deps.onRequest?.(record);
  res.once("finish", () => {
    record.status = res.statusCode;
  });
  if (method === "PUT" && SEND_PATH.test(rawPath)) {
    deps.faults.enterSend();
    res.once("close", () => deps.faults.leaveSend());
  }
  res.setHeader("access-control-allow-origin", "*");
  if (method === "OPTIONS") {
    res.setHeader("access-control-allow-methods", "GET, POST, PUT, DELETE, OPTIONS");
    res.setHeader("access-control-allow-headers", "X-Requested-With, Content-Type, Authorization");
    writeJson(res, 200, {});
    return;
  }

  // Masqueraded appservice users are created on first use, except by /register (which creates them itself).
  const authResult = resolveAuth(deps, req, url.searchParams, !/\/register$/.test(path));
  if (authResult.auth) record.userId = authResult.auth.userId;

  const fault = deps.faults.take(method, path, rawPath, record.userId);
  if (fault && fault.afterHandling !== true) return answerWithFault(fault, record, req, res);

  try {
    const matched = matchRoute(deps.routes, method, rawPath);
    if (matched === undefined) throw new MatrixHttpError(404, "M_UNRECOGNIZED", "Unrecognized request");
    if (matched === "method-not-allowed") throw new MatrixHttpError(405, "M_UNRECOGNIZED", "Unrecognized request");
    if (matched.route.auth && authResult.error) throw authResult.error;
    const body = (method === "POST" || method === "PUT" || method === "DELETE") && matched.route.rawBody !== true ? await readJsonBody(req, deps.maxBodyBytes) : undefined;
    const ctx: RouteContext = { method, path, params: matched.params, query: url.searchParams, body, auth: authResult.auth, req, res };
    const reply = await matched.route.handler(ctx);
    if (res.writableEnded || res.destroyed) return;
    if (fault) return answerWithFault(fault, record, req, res); // handled (committed), but the answer is lost
    for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
    writeJson(res, reply.status ?? 200, reply.body);
  } catch (error) {
    if (res.writableEnded || res.destroyed) return;
    if (fault) return answerWithFault(fault, record, req, res);
    if (error instanceof MatrixHttpError) {
      if (error.status === 429 && typeof error.extra["retry_after_ms"] === "number") {
        res.setHeader("retry-after", String(Math.ceil(error.extra["retry_after_ms"] / 1000)));
      }
      writeJson(res, error.status, error.body());
    } else {
      writeJson(res, 500, { errcode: "M_UNKNOWN", error: error instanceof Error ? error.message : String(error) });
    }
  }
}

/** A scripted fault instead of the real answer: a dropped connection, or an error reply (spec or proxy-shaped). */
function answerWithFault(fault: FaultReply, record: RequestRecord, req: IncomingMessage, res: ServerResponse): void {
  if ("dropConnection" in fault) {
    record.status = 0;
    req.socket.destroy();
    return;
  }
  const { body, contentType, headers } = faultBody(fault);
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.writeHead(fault.status, { "content-type": contentType });
  res.end(body);
}

function resolveAuth(
  deps: ServerDeps,
  req: IncomingMessage,
  query: URLSearchParams,
  requireRegistered: boolean,
): { auth?: AuthContext; error?: MatrixHttpError } {
  const header = req.headers["authorization"];
  const bearer = typeof header === "string" && /^Bearer\s+/i.test(header) ? header.replace(/^Bearer\s+/i, "").trim() : undefined;
  const token = bearer ?? query.get("access_token") ?? undefined;
  if (!token) return { error: new MatrixHttpError(401, "M_MISSING_TOKEN", "Missing access token") };
  const record = deps.model.users.resolve(token);
  if (!record) {
    return { error: new MatrixHttpError(401, "M_UNKNOWN_TOKEN", "Unknown access token", { soft_logout: false }) };
  }
  if (record.kind === "user") {
    return { auth: { userId: record.userId, accessToken: token, deviceId: record.deviceId, txnScope: token } };
  }
  const link = deps.appservices.get(record.appserviceId);
  if (!link) return { error: new MatrixHttpError(401, "M_UNKNOWN_TOKEN", "Unknown access token", { soft_logout: false }) };
  const target = query.get("user_id") ?? link.senderUserId;
  const local = USER_ID_RE.test(target) && target.endsWith(`:${deps.model.serverName}`);
  if (!local || !link.ownsUser(target)) {
    return { error: forbidden(`Application service cannot masquerade as this user (${target}).`) };
  }
  // Synapse: the appservice may act as a user of its namespace only once it registered it (POST /register).
  if (requireRegistered && target !== link.senderUserId && !deps.model.users.get(target)) {
    return { error: forbidden(`Application service has not registered this user (${target})`) };
  }
  const device = masqueradedDevice(deps.model.users.devices, query, target, deps.appserviceE2ee);
  if (device.error) return { error: device.error };
  const deviceId = device.deviceId !== undefined ? { deviceId: device.deviceId } : {};
  return { auth: { userId: target, accessToken: token, appserviceId: link.id, txnScope: `${token}|${target}`, ...deviceId } };
}

async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > maxBytes) throw new MatrixHttpError(413, "M_TOO_LARGE", "Request body too large");
    chunks.push(buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new MatrixHttpError(400, "M_NOT_JSON", "Content not JSON.");
  }
}

function writeJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.writableEnded || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
