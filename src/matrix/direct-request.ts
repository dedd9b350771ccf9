// The bot's own request function for its Matrix calls (MatrixHttp, http.ts): one JSON request over node:http(s)
// with a keep-alive agent of its own, straight to a parsed answer or a MatrixRequestError. It does what
// matrix-bot-sdk's doRequest did for these calls (Bearer token, JSON body, query with repeated arrays, a 2xx
// answer parsed when it is JSON, an answer carrying `errcode` or a non-2xx an error, Retry-After read) without its
// option merging, logging and error objects, which cost more CPU per reply than the rest of its HTTP.
// Not supported, as before (the SDK's engine, request-engine.ts, never did them): proxies from HTTP(S)_PROXY, redirects.
import * as http from "node:http";
import * as https from "node:https";
import { stringify } from "node:querystring";
import { errorOfAnswer, normalizeMatrixError } from "./errors";

export type QueryValue = string | number | boolean | string[];

export interface DirectRequestOptions {
  homeserverUrl: string;
  /** Sent as `Authorization: Bearer …`; never in a URL, a log line or an error text. */
  accessToken: string;
  /** Sockets open to the homeserver at most (requests beyond wait for one); as many are kept open when idle. */
  maxSockets: number;
}

export interface DirectCall {
  method: string;
  /** From the API root, e.g. `/_matrix/client/v3/rooms/!r%3Ax/send/m.room.message/t1` (ids already encoded). */
  path: string;
  query?: Record<string, QueryValue> | undefined;
  /** JSON-encoded when not undefined or null. */
  body?: unknown;
  /** No byte of the answer for this long: the request fails as a network error (ETIMEDOUT). */
  timeoutMs: number;
  /** What the error texts call the request, e.g. `PUT /rooms/…/send/…` (a function: made only for an error). */
  what: string | (() => string);
}

export type DirectRequest = (call: DirectCall) => Promise<unknown>;

/**
 * Errors of a socket the homeserver closed while it lay idle in the pool: the request was written to a dead
 * connection and never read. Tried again (at most twice: the pool may hold more dead ones) on another connection
 * when the method is idempotent (GET, PUT, DELETE; a send's txnId makes a PUT safe); otherwise the call fails as a
 * transient network error, which the caller retries or not as for any other.
 */
const STALE_SOCKET_CODES = new Set(["ECONNRESET", "EPIPE"]);
const IDEMPOTENT = new Set(["GET", "PUT", "DELETE", "HEAD"]);

export function createDirectRequest(opts: DirectRequestOptions): DirectRequest {
  const base = new URL(opts.homeserverUrl);
  const secure = base.protocol === "https:";
  const prefix = base.pathname.replace(/\/+$/, "");
  const poolOptions = { keepAlive: true, maxSockets: opts.maxSockets, maxFreeSockets: opts.maxSockets };
  const agent = secure ? new https.Agent(poolOptions) : new http.Agent(poolOptions);
  const send = secure ? https.request : http.request;
  const authorization = opts.accessToken === "" ? undefined : `Bearer ${opts.accessToken}`;

  const once = (call: DirectCall, path: string, payload: string | undefined): Promise<unknown> => new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = {};
    if (authorization !== undefined) headers["authorization"] = authorization;
    if (payload !== undefined) {
      headers["content-type"] = "application/json";
      headers["content-length"] = Buffer.byteLength(payload);
    }
    const req = send({ protocol: base.protocol, hostname: base.hostname, port: base.port, method: call.method, path, headers,
      agent, timeout: call.timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", reject);
      res.on("end", () => {
        const status = res.statusCode ?? 0;
        const body = parseJson((chunks.length === 1 ? chunks[0] as Buffer : Buffer.concat(chunks)).toString("utf8"));
        if (status < 200 || status >= 300 || isErrorBody(body)) reject(errorOfAnswer(status, body, res.headers, whatOf(call)));
        else resolve(body);
      });
    });
    req.on("timeout", () => req.destroy(Object.assign(new Error(`no answer within ${call.timeoutMs} ms`), { code: "ETIMEDOUT" })));
    req.on("error", (e: NodeJS.ErrnoException) => reject(Object.assign(e, { staleSocket: req.reusedSocket && STALE_SOCKET_CODES.has(e.code ?? "") })));
    req.end(payload);
  });

  return async (call) => {
    const query = call.query ? stringify(call.query) : "";
    const path = `${prefix}${call.path}${query === "" ? "" : `?${query}`}`;
    const payload = call.body === undefined || call.body === null ? undefined : JSON.stringify(call.body);
    for (let attempt = 1; ; attempt++) {
      try {
        return await once(call, path, payload);
      } catch (e) {
        const stale = (e as { staleSocket?: unknown }).staleSocket === true;
        if (stale && attempt < 3 && IDEMPOTENT.has(call.method)) continue;
        throw normalizeMatrixError(e, whatOf(call));
      }
    }
  };
}

const whatOf = (call: DirectCall): string => (typeof call.what === "string" ? call.what : call.what());

/** The answer's JSON, or its text when it is not JSON (as the SDK returned it). */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** An answer that names an errcode is an error whatever its status (as the SDK read it). */
function isErrorBody(body: unknown): boolean {
  return typeof body === "object" && body !== null && "errcode" in body;
}
