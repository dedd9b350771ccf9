// The bot's own HTTP server (node:http, not the SDK's express app) on HTTP_BIND: GET /healthz, GET /readyz,
// GET /metrics, and routes others register (POST /proactive) with a body size limit and JSON helpers. Every error
// answer has one shape, as Matrix's: {"errcode": "M_…", "error": "…"} (request.ts).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { Metrics } from "../metrics";
import type { ReadinessReport } from "./readiness";
import {
  bearerFrom,
  checkWithSchema,
  errorBody,
  HttpError,
  parseJsonBody,
  readBody,
  type HttpReply,
  type HttpRequest,
  type RouteHandler,
} from "./request";

export { errorBody, HttpError, json, requireBearer, tokensMatch, type ErrorBody, type HttpReply, type HttpRequest, type RouteHandler } from "./request";

export interface HttpServerOptions {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** HTTP_BODY_LIMIT_BYTES: largest request body a route may read (413 beyond). */
  bodyLimitBytes: number;
  log: Logger;
  readiness: () => Promise<ReadinessReport> | ReadinessReport;
  metrics: Metrics;
  /** Whole-request limit (slow clients). Default 30000. */
  requestTimeoutMs?: number;
  /** stop() waits this long for requests in flight before closing their connections. Default 2000. */
  stopGraceMs?: number;
}

export const HTTP_SERVER_DEFAULTS = { requestTimeoutMs: 30_000, stopGraceMs: 2000 } as const;

export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE" | "PATCH";

export class HttpServer {
  private readonly routes = new Map<string, Map<string, RouteHandler>>();
  private server: Server | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly opts: HttpServerOptions) {
    this.route("GET", "/healthz", () => ({ status: 200, body: { status: "ok" } }));
    this.route("GET", "/readyz", () => this.readyz());
    this.route("GET", "/metrics", async () => ({
      status: 200,
      body: await this.opts.metrics.text(),
      headers: { "content-type": this.opts.metrics.contentType },
    }));
  }

  /** Adds a route (exact path). Throws when the method and path are already taken. */
  route(method: HttpMethod, path: string, handler: RouteHandler): void {
    if (!path.startsWith("/")) throw new TypeError(`route path must start with "/": ${JSON.stringify(path)}`);
    let byMethod = this.routes.get(path);
    if (!byMethod) {
      byMethod = new Map();
      this.routes.set(path, byMethod);
    }
    if (byMethod.has(method)) throw new Error(`route ${method} ${path} is already registered`);
    byMethod.set(method, handler);
  }

  /** Listens on host:port; resolves with the port actually bound. Rejects with a readable message (e.g. port in use). */
  async start(): Promise<{ port: number }> {
    if (this.server) throw new Error("the HTTP server is already started");
    const server = createServer((req, res) => void this.handle(req, res));
    server.requestTimeout = this.opts.requestTimeoutMs ?? HTTP_SERVER_DEFAULTS.requestTimeoutMs;
    server.headersTimeout = Math.min(server.requestTimeout, 60_000);
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        reject(new Error(`the HTTP server cannot listen on ${this.opts.host}:${this.opts.port} (HTTP_BIND): ${
          error.code === "EADDRINUSE" ? "the address is already in use" : error.code ?? error.message}`, { cause: error }));
      };
      server.once("error", onError);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off("error", onError);
        resolve();
      });
    });
    server.on("error", (error) => this.opts.log.error({ err: error }, "HTTP server error"));
    this.server = server;
    const { port } = server.address() as AddressInfo;
    this.opts.log.info({ host: this.opts.host, port }, "HTTP server listening (/healthz /readyz /metrics)");
    return { port };
  }

  /** Stops accepting connections; requests in flight get stopGraceMs to finish. Idempotent. */
  stop(): Promise<void> {
    const server = this.server;
    if (!server) return Promise.resolve();
    this.stopping ??= new Promise<void>((resolve) => {
      const force = setTimeout(() => server.closeAllConnections(), this.opts.stopGraceMs ?? HTTP_SERVER_DEFAULTS.stopGraceMs);
      force.unref();
      server.close(() => {
        clearTimeout(force);
        resolve();
      });
      server.closeIdleConnections();
    });
    return this.stopping;
  }

  private async readyz(): Promise<HttpReply> {
    let report: ReadinessReport;
    try {
      report = await this.opts.readiness();
    } catch (error) {
      this.opts.log.error({ err: error }, "readiness check failed");
      return { status: 503, body: { ready: false, errcode: "M_UNKNOWN", error: "the readiness check itself failed; see the bot's log" } };
    }
    return { status: report.ready ? 200 : 503, body: report };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? "/", "http://localhost");
      const method = (req.method ?? "GET").toUpperCase();
      const byMethod = this.routes.get(url.pathname);
      const handler = byMethod?.get(method === "HEAD" ? "GET" : method);
      if (!byMethod) throw new HttpError(404, "M_UNRECOGNIZED", `nothing here: ${url.pathname}`);
      if (!handler) {
        const allow = [...byMethod.keys()].join(", ");
        throw new HttpError(405, "M_UNRECOGNIZED", `use ${allow} for ${url.pathname}`, { allow });
      }
      const reply = await handler(this.request(req, method, url));
      send(res, reply);
    } catch (error) {
      if (error instanceof HttpError) {
        send(res, { status: error.status, body: error.body, headers: error.headers });
        return;
      }
      this.opts.log.error({ err: error, method: req.method, path: safePath(req.url) }, "HTTP handler failed");
      send(res, { status: 500, body: errorBody("M_UNKNOWN", "internal error; see the bot's log") });
    }
  }

  private request(req: IncomingMessage, method: string, url: URL): HttpRequest {
    const limit = this.opts.bodyLimitBytes;
    let body: Promise<Buffer> | undefined;
    const readOnce = (): Promise<Buffer> => (body ??= readBody(req, limit));
    async function parse(schema?: Parameters<typeof checkWithSchema>[1]): Promise<unknown> {
      const value = parseJsonBody(await readOnce(), req.headers["content-type"]);
      return schema ? checkWithSchema(value, schema) : value;
    }
    return {
      method,
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      raw: req,
      body: readOnce,
      json: parse as HttpRequest["json"],
      bearerToken: () => bearerFrom(req.headers),
    };
  }
}

function send(res: ServerResponse, reply: HttpReply): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string> = { "cache-control": "no-store", ...lower(reply.headers ?? {}) };
  let payload: string | Buffer | undefined;
  if (reply.body === undefined) payload = undefined;
  else if (typeof reply.body === "string" || Buffer.isBuffer(reply.body)) {
    payload = reply.body;
    headers["content-type"] ??= "text/plain; charset=utf-8";
  } else {
    payload = JSON.stringify(reply.body);
    headers["content-type"] ??= "application/json; charset=utf-8";
  }
  res.writeHead(reply.status, headers);
  res.end(payload);
}

function lower(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

/** The path only: query strings may carry tokens. */
function safePath(url: string | undefined): string {
  return (url ?? "/").split("?")[0] ?? "/";
}
