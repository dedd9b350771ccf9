// Identifier minting: event ids ($ + url-safe base64 hash, as room versions 4+), room ids
// (`!opaque:server`; v12 ids are minted in room-create.ts from the create event's hash), tokens.
import { createHash, randomBytes } from "node:crypto";

/** Canonical JSON (sorted keys, no whitespace), enough for hashing our own events. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** Unpadded url-safe base64 of sha256 (43 characters). */
export function hashB64Url(text: string): string {
  return createHash("sha256").update(text).digest("base64url");
}

export function randomAlnum(length: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  const bytes = randomBytes(length);
  let out = "";
  for (const byte of bytes) out += alphabet[byte % alphabet.length];
  return out;
}

/** Random once per process; with a counter, every event id is unique without a random draw (a syscall) each. */
const EVENT_ID_SALT = randomBytes(16).toString("hex");
let eventCounter = 0;

/** A fresh event id (`$` + 43 url-safe base64 characters, as room versions 4+). */
export function newEventId(): string {
  eventCounter += 1;
  return `$${hashB64Url(`${EVENT_ID_SALT}:${eventCounter}`)}`;
}

export function legacyRoomId(serverName: string): string {
  return `!${randomAlnum(18)}:${serverName}`;
}

export function newAccessToken(localpart: string): string {
  return `syt_${Buffer.from(localpart).toString("base64url")}_${randomAlnum(20)}`;
}

export function newDeviceId(): string {
  return randomAlnum(10).toUpperCase();
}

export function localpartOf(userId: string): string {
  return userId.slice(1).split(":")[0] ?? "";
}

export const USER_ID_RE = /^@[^:\s]+:[^\s]+$/;
