// An entry the bot builds itself (a reply, a notice, a live edit) checked by hand and copied as the schema copies
// it: the same fields in the same order, its content a shallow copy. Anything the check is not sure of (a content
// with symbol keys or another prototype, an origin field the schema drops, ...) gives undefined and
// outboxEntryInputSchema judges it, so the entries accepted and what the outbox keeps are the schema's
// (test/unit/outbox/entry-check.test.ts). The schema's parse was ~2 KB per message.
import { hasOwn as has, isNonEmptyString as nonEmpty } from "../util/json-checks";
import type { OutboxEntryInput, OutboxOrigin } from "./records";

type Json = Record<string, unknown>;

const ORIGIN_KINDS: ReadonlySet<unknown> = new Set(["reply", "proactive", "notice", "live"]);

function plainRecord(v: unknown): v is Json {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return (proto === Object.prototype || proto === null) && !has(v, "__proto__") && Object.getOwnPropertySymbols(v).length === 0;
}

function copyOrigin(origin: OutboxOrigin): OutboxOrigin | undefined {
  if (!plainRecord(origin) || !ORIGIN_KINDS.has(origin.kind)) return undefined;
  let keys = 0;
  for (const key in origin) if (has(origin, key)) keys += 1;
  if (!has(origin, "runId")) return keys === 1 ? { kind: origin.kind } : undefined;
  return keys === 2 && typeof origin.runId === "string" ? { kind: origin.kind, runId: origin.runId } : undefined;
}

/** The schema's output for `entry`, when the hand check is sure of it; undefined: let the schema judge. */
export function checkedEntry(entry: OutboxEntryInput): OutboxEntryInput | undefined {
  const { roomId, type, content, txnId, origin, asUser } = entry;
  if (!nonEmpty(roomId) || !nonEmpty(type) || !nonEmpty(txnId) || !plainRecord(content)) return undefined;
  if (has(entry, "asUser") && !nonEmpty(asUser)) return undefined;
  const out: OutboxEntryInput = { roomId, type, content: { ...content }, txnId };
  if (has(entry, "origin")) {
    const copied = origin === undefined ? undefined : copyOrigin(origin);
    if (copied === undefined) return undefined;
    out.origin = copied;
  }
  if (asUser !== undefined) out.asUser = asUser;
  return out;
}
