// Route table: path templates over decoded segments, request context handed to handlers.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { JsonObject } from "./types";
import { badJson, isJsonObject, MatrixHttpError } from "./types";

export interface AuthContext {
  /** The effective user (the masqueraded one for an appservice). */
  userId: string;
  accessToken: string;
  deviceId?: string;
  appserviceId?: string;
  /** Scope of transaction ids: the access token, plus the masqueraded user for appservices. */
  txnScope: string;
}

export interface RouteContext {
  method: string;
  /** Decoded path. */
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  /** Set whenever the request carried a valid token (always on routes that need auth). */
  auth: AuthContext | undefined;
  req: IncomingMessage;
  res: ServerResponse;
}

export interface Reply {
  status?: number;
  body: unknown;
  headers?: Record<string, string>;
}

export type Handler = (ctx: RouteContext) => Reply | Promise<Reply>;

export interface Route {
  method: string;
  segments: string[];
  auth: boolean;
  /** The handler reads the request body itself (media upload); otherwise POST/PUT bodies are parsed as JSON. */
  rawBody?: boolean;
  handler: Handler;
}

const CLIENT_PREFIX = ["_matrix", "client", "{v}"];
const CLIENT_VERSIONS = new Set(["v3", "r0"]);

/** A Client-Server route under /_matrix/client/{v3|r0}/; `:name` captures one decoded segment. */
export function clientRoute(method: string, template: string, handler: Handler, opts: { auth?: boolean } = {}): Route {
  return { method, segments: [...CLIENT_PREFIX, ...template.split("/")], auth: opts.auth ?? true, handler };
}

export function rawRoute(method: string, path: string, handler: Handler, opts: { auth?: boolean; rawBody?: boolean } = {}): Route {
  return { method, segments: path.split("/").filter((s) => s !== ""), auth: opts.auth ?? true, handler, ...(opts.rawBody ? { rawBody: true } : {}) };
}

export type MatchResult = { route: Route; params: Record<string, string> } | "method-not-allowed" | undefined;

export function matchRoute(routes: Route[], method: string, rawPath: string): MatchResult {
  const parts = rawPath.split("/").slice(1).map(safeDecode);
  let pathMatched = false;
  for (const route of routes) {
    const params = matchSegments(route.segments, parts);
    if (!params) continue;
    if (route.method === method) return { route, params };
    pathMatched = true;
  }
  return pathMatched ? "method-not-allowed" : undefined;
}

function matchSegments(template: string[], parts: string[]): Record<string, string> | undefined {
  if (template.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < template.length; i += 1) {
    const want = template[i] ?? "";
    const got = parts[i] ?? "";
    if (want === "{v}") {
      if (!CLIENT_VERSIONS.has(got)) return undefined;
    } else if (want.startsWith(":")) {
      params[want.slice(1)] = got;
    } else if (want !== got) {
      return undefined;
    }
  }
  return params;
}

export function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export function me(ctx: RouteContext): AuthContext {
  if (!ctx.auth) throw new MatrixHttpError(401, "M_MISSING_TOKEN", "Missing access token");
  return ctx.auth;
}

export function param(ctx: RouteContext, name: string): string {
  return ctx.params[name] ?? "";
}

export function objectBody(ctx: RouteContext): JsonObject {
  if (ctx.body === undefined) return {};
  if (!isJsonObject(ctx.body)) throw badJson("Content must be a JSON object");
  return ctx.body;
}

export function stringField(body: JsonObject, key: string, required: true): string;
export function stringField(body: JsonObject, key: string, required?: false): string | undefined;
export function stringField(body: JsonObject, key: string, required = false): string | undefined {
  const value = body[key];
  if (value === undefined) {
    if (required) throw new MatrixHttpError(400, "M_MISSING_PARAM", `Missing ${key}`);
    return undefined;
  }
  if (typeof value !== "string") throw badJson(`${key} must be a string`);
  return value;
}

export const ok = (body: unknown = {}): Reply => ({ body });
