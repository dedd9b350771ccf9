// The Application Service API's wire side, without state: routes, body reading within a limit, JSON replies,
// the transaction body's shape and its events turned into InboundItems, the hs_token comparison and the
// registration's user namespaces. The server (state, dedupe, lifecycle) is appservice-server.ts.
import { createHash, timingSafeEqual } from "node:crypto";
import type * as http from "node:http";
import type { Logger } from "pino";
import { z } from "zod";
import type { Registration } from "../config/schema";
import { inviteFromMemberEvent, parseRoomEvent, viaFor, type InboundItem, type InviteNotice } from "./events";

/**
 * `PUT /transactions/{txnId}` body. `events` is read here; to-device messages, device lists and key counts by
 * appservice-crypto.ts (with MATRIX_E2EE=true); ephemeral data (`ephemeral`, `de.sorunome.msc2409.ephemeral`) is ignored.
 * Events are validated one by one later, so that one malformed event fails only itself.
 */
export const transactionBodySchema = z.looseObject({
  events: z.array(z.unknown()),
  ephemeral: z.array(z.unknown()).optional(),
  "de.sorunome.msc2409.ephemeral": z.array(z.unknown()).optional(),
});
export type TransactionBody = z.infer<typeof transactionBodySchema>;

/**
 * The transaction's events as InboundItems, in order. An `m.room.member` invite for the bot becomes an
 * `invite` item (joining through the inviter's and the room's servers); every other valid event an
 * `event` item. A malformed event is logged (never its content) and skipped.
 */
export function itemsFromTransaction(events: readonly unknown[], botUserId: string, log: Logger, txnId: string): InboundItem[] {
  const items: InboundItem[] = [];
  events.forEach((raw, index) => {
    const parsed = parseRoomEvent(raw);
    if (!parsed.ok) {
      log.warn({ txnId, index, ...identify(raw), reason: parsed.reason }, "malformed event in appservice transaction skipped");
      return;
    }
    const invite = inviteFromMemberEvent(parsed.event, botUserId);
    if (invite) {
      const roomType = roomTypeOf(parsed.event.unsigned);
      const notice: InviteNotice = { ...invite, via: viaFor(invite.roomId, invite.inviter), ...(roomType ? { roomType } : {}) };
      items.push({ kind: "invite", invite: notice });
    } else {
      items.push({ kind: "event", event: parsed.event });
    }
  });
  return items;
}

/** A digest of the transaction's event ids, in order (an event without a string event_id counts as ""). */
export function digestOf(events: readonly unknown[]): string {
  const hash = createHash("sha256");
  for (const raw of events) {
    const id = typeof raw === "object" && raw !== null ? (raw as Record<string, unknown>)["event_id"] : undefined;
    hash.update(typeof id === "string" ? id : "").update("\n");
  }
  return hash.digest("base64url").slice(0, 22);
}

/** The event's ids, when they are strings, for the log line about a malformed event. */
function identify(raw: unknown): { eventId?: string; roomId?: string; type?: string } {
  if (typeof raw !== "object" || raw === null) return {};
  const r = raw as Record<string, unknown>;
  const pick = (v: unknown): string | undefined => (typeof v === "string" ? v.slice(0, 255) : undefined);
  const eventId = pick(r["event_id"]);
  const roomId = pick(r["room_id"]);
  const type = pick(r["type"]);
  return { ...(eventId ? { eventId } : {}), ...(roomId ? { roomId } : {}), ...(type ? { type } : {}) };
}

/** `m.room.create`'s `type` (e.g. "m.space") from the invite's stripped state, when the homeserver sent it. */
function roomTypeOf(unsigned: Record<string, unknown> | undefined): string | undefined {
  const state = unsigned?.["invite_room_state"];
  if (!Array.isArray(state)) return undefined;
  for (const entry of state as unknown[]) {
    if (typeof entry !== "object" || entry === null) continue;
    const e = entry as Record<string, unknown>;
    const content = e["content"];
    if (e["type"] !== "m.room.create" || typeof content !== "object" || content === null) continue;
    const type = (content as Record<string, unknown>)["type"];
    if (typeof type === "string") return type;
  }
  return undefined;
}

/** Constant-time comparison of a presented token with the expected one (digests first: lengths leak nothing). */
export function tokenMatches(presented: string, expected: string): boolean {
  const a = createHash("sha256").update(presented, "utf8").digest();
  const b = createHash("sha256").update(expected, "utf8").digest();
  return timingSafeEqual(a, b);
}

/**
 * The registration's user namespace regexes, anchored at the start as homeservers apply them
 * (Synapse uses Python's `re.match`). Invalid ones are rejected earlier by the registration schema.
 */
/** The user a named agent answers as in appservice mode (src/app/agent-users.ts). */
export function agentUserId(senderLocalpart: string, agent: string, serverName: string): string {
  return `@${senderLocalpart}_${agent}:${serverName}`;
}

export function userNamespaceRegexes(registration: Pick<Registration, "namespaces">): RegExp[] {
  return registration.namespaces.users.map((ns) => new RegExp(`^(?:${ns.regex})`));
}

// ---------------------------------------------------------------- HTTP

export type RouteKind = "transaction" | "user" | "room" | "ping";
export interface Route {
  kind: RouteKind;
  /** The decoded path parameter (txnId, user id, alias); "" for ping. */
  param: string;
}
export const ROUTE_METHOD: Record<RouteKind, string> = { transaction: "PUT", user: "GET", room: "GET", ping: "POST" };

const ROUTES: Array<[RegExp, RouteKind]> = [
  [/^(?:\/_matrix\/app\/v1)?\/transactions\/([^/]+)$/, "transaction"],
  [/^(?:\/_matrix\/app\/v1)?\/users\/([^/]+)$/, "user"],
  [/^(?:\/_matrix\/app\/v1)?\/rooms\/([^/]+)$/, "room"],
  [/^\/_matrix\/app\/v1\/ping()$/, "ping"],
];

export function matchRoute(pathname: string): Route | undefined {
  for (const [pattern, kind] of ROUTES) {
    const match = pattern.exec(pathname);
    if (!match) continue;
    try {
      return { kind, param: decodeURIComponent(match[1] ?? "") };
    } catch {
      return undefined; // malformed percent-encoding
    }
  }
  return undefined;
}

/** Whether the request announces a body (which an early answer leaves unread: the connection is then closed). */
export function hasBody(req: http.IncomingMessage): boolean {
  const length = req.headers["content-length"];
  return req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}

/** The whole body, or why not. Stops reading (pauses) as soon as the limit is passed: never buffers more. */
export function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | "too_large" | "aborted"> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve("too_large");
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (result: Buffer | "too_large" | "aborted"): void => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    req.on("data", (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) {
        req.pause();
        settle("too_large");
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => settle(Buffer.concat(chunks, size)));
    req.on("error", () => settle("aborted"));
    req.on("close", () => settle("aborted"));
  });
}

export function reply(res: http.ServerResponse, status: number, body: Record<string, unknown>, close = false): void {
  if (res.headersSent || res.writableEnded || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    ...(close ? { connection: "close" } : {}),
  });
  res.end(text);
}

/** "ok", or why not. The token may come as `Authorization: Bearer` or `?access_token=`; every one given must match. */
export function authenticate(req: http.IncomingMessage, url: URL, hsToken: string): "ok" | "missing" | "wrong" {
  const given: string[] = [];
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "")?.[1];
  if (bearer !== undefined) given.push(bearer);
  for (const token of url.searchParams.getAll("access_token")) given.push(token);
  if (given.length === 0) return "missing";
  let ok = true;
  for (const token of given) ok = tokenMatches(token, hsToken) && ok;
  return ok ? "ok" : "wrong";
}

/** Where a standby keeps transactions for the active, and how the active takes them first (HeldTransactions fits). */
export interface TransactionRelay {
  /** A standby: a transaction not seen before is stored for the active (`hold`) and answered 200, not processed. */
  holding(): boolean;
  hold(txnId: string, body: TransactionBody): Promise<void>;
  /** The active, before each transaction of its own: what a standby held is processed first (throws: refuse it). */
  beforeOwn(): Promise<void>;
}
