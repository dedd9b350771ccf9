// The HTTP engine under matrix-bot-sdk's own client calls (`MatrixClient.doRequest`: the crypto client's, with
// MATRIX_E2EE=true), installed with the SDK's `setRequestFn` (src/matrix/sdk.ts). The SDK still builds those calls,
// maps errors (MatrixError with errcode and retryAfterMs) and logs; this only replaces the deprecated `request`
// package underneath. The bot's own Matrix calls skip the SDK altogether (direct-request.ts). node:http(s) with one
// keep-alive agent per origin. Not supported (the SDK never asks for them): proxies from HTTP(S)_PROXY, redirects.
import * as http from "node:http";
import * as https from "node:https";
import { stringify } from "node:querystring";
import { parseRetryAfter, RETRY_AFTER_HEADER_MS } from "./retry-after";

/** The subset of `request`'s options matrix-bot-sdk 0.7.1 passes (lib/http.js). */
export interface RequestParams {
  uri: string;
  method: string;
  qs?: Record<string, unknown> | null;
  /** undefined: the body is a string; null: a Buffer. */
  encoding?: null | undefined;
  timeout?: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export type RequestCallback = (error: Error | null, response?: EngineResponse, body?: string | Buffer | object) => void;

export interface EngineResponse {
  statusCode: number;
  headers: http.IncomingHttpHeaders;
  /** An object only for an error answer with a JSON body and a Retry-After header (see withRetryAfter). */
  body: string | Buffer | object;
}

const agents = new Map<string, http.Agent>();

function agentFor(url: URL): http.Agent {
  let agent = agents.get(url.origin);
  if (!agent) {
    const options = { keepAlive: true, maxSockets: 64, maxFreeSockets: 64 };
    agent = url.protocol === "https:" ? new https.Agent(options) : new http.Agent(options);
    agents.set(url.origin, agent);
  }
  return agent;
}

/** A `request`-compatible function: `(params, callback(error, response, body))`. */
export function nodeRequest(params: RequestParams, callback: RequestCallback): void {
  let url: URL;
  try {
    url = new URL(params.uri);
  } catch (e) {
    callback(e instanceof Error ? e : new Error(String(e)));
    return;
  }
  const query = params.qs ? stringify(params.qs as Record<string, string | string[]>) : "";
  const path = `${url.pathname}${url.search}${query ? `${url.search ? "&" : "?"}${query}` : ""}`;
  const headers: Record<string, string> = { ...params.headers };
  if (params.body !== undefined) headers["content-length"] = String(Buffer.byteLength(params.body));
  const send = url.protocol === "https:" ? https.request : http.request;
  let done = false;
  const finish: RequestCallback = (error, response, body) => {
    if (done) return;
    done = true;
    callback(error, response, body);
  };
  const req = send({ protocol: url.protocol, hostname: url.hostname, port: url.port, method: params.method, path, headers,
    agent: agentFor(url), timeout: params.timeout }, (res) => {
    const chunks: Buffer[] = [];
    res.on("data", (chunk: Buffer) => chunks.push(chunk));
    res.on("error", (e) => finish(e));
    res.on("end", () => {
      const raw = Buffer.concat(chunks);
      const text = params.encoding === null ? raw : raw.toString("utf8");
      const body = withRetryAfter(text, res.statusCode ?? 0, res.headers["retry-after"]);
      finish(null, { statusCode: res.statusCode ?? 0, headers: res.headers, body }, body);
    });
  });
  req.on("timeout", () => req.destroy(Object.assign(new Error(`no answer within ${params.timeout} ms`), { code: "ETIMEDOUT" })));
  req.on("error", (e) => finish(e));
  req.end(params.body);
}

/**
 * An error answer's JSON body with its Retry-After header attached (RETRY_AFTER_HEADER_MS): the SDK builds its
 * MatrixError from the body alone and drops the headers. The SDK parses string bodies itself and keeps an object
 * as it is. Anything else is returned unchanged.
 */
function withRetryAfter(body: string | Buffer, status: number, header: string | undefined): string | Buffer | object {
  if (status < 400 || typeof body !== "string" || header === undefined) return body;
  const ms = parseRetryAfter(header);
  if (ms === undefined) return body;
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return body;
    Object.defineProperty(parsed, RETRY_AFTER_HEADER_MS, { value: ms, enumerable: false });
    return parsed;
  } catch {
    return body;
  }
}
