// The common v1 event frame (RUN_STARTED, TEXT_MESSAGE_START/CONTENT/END, RUN_FINISHED, nothing beside the fields
// the schema names) checked by hand and built as AgentFrameSchema would output it: key for key, in the schema's
// order. Anything else (another type, an extra event field, a value the check is not sure of) gives undefined and
// the full schema judges it, so the frames accepted and rejected, and what an accepted frame holds, are the schema's
// (test/unit/agent/frame-fast-path.test.ts). Five frames per turn: the schema's copies were ~9 KB per turn.
import { hasOwn, isJsonObject as isPlainObject, isNonEmptyString as nonEmpty } from "../util/json-checks";
import type { EventFrame, RunFrame } from "./protocol";

type Json = Record<string, unknown>;

/** How many own enumerable keys `o` has, all of them `allowed`; -1 when one is not. */
function keysWithin(o: Json, allowed: (key: string) => boolean): number {
  let n = 0;
  for (const key in o) {
    if (!hasOwn(o, key)) continue;
    if (!allowed(key)) return -1;
    n += 1;
  }
  return n;
}

const messageKeys = (key: string): boolean => key === "type" || key === "messageId";
const contentKeys = (key: string): boolean => key === "type" || key === "messageId" || key === "delta";

/** The event as the schema outputs it, or undefined (the schema decides). */
function fastEvent(event: unknown): EventFrame["event"] | undefined {
  if (!isPlainObject(event)) return undefined;
  const type = event["type"];
  switch (type) {
    case "RUN_STARTED":
    case "RUN_FINISHED":
      return keysWithin(event, (key) => key === "type") === 1 ? { type } : undefined;
    case "TEXT_MESSAGE_START":
    case "TEXT_MESSAGE_END": {
      const messageId = event["messageId"];
      return nonEmpty(messageId) && keysWithin(event, messageKeys) === 2 ? { type, messageId } : undefined;
    }
    case "TEXT_MESSAGE_CONTENT": {
      const messageId = event["messageId"];
      const delta = event["delta"];
      return nonEmpty(messageId) && typeof delta === "string" && keysWithin(event, contentKeys) === 3
        ? { type, messageId, delta } : undefined;
    }
    default:
      return undefined;
  }
}

/** A v1 `event` frame of the common kind as the schema outputs it; undefined: let the schema judge `json`. */
export function fastEventFrameV1(json: Json): EventFrame | undefined {
  if (json["op"] !== "event") return undefined;
  const seq = json["seq"];
  const threadId = json["threadId"];
  const runId = json["runId"];
  if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 0 || !nonEmpty(threadId) || !nonEmpty(runId)) return undefined;
  const event = fastEvent(json["event"]);
  if (event === undefined) return undefined;
  if (!hasOwn(json, "proactive")) return { op: "event", seq, threadId, runId, event };
  const proactive = json["proactive"];
  return typeof proactive === "boolean" ? { op: "event", seq, threadId, runId, proactive, event } : undefined;
}

// ---------------------------------------------------------------- the run frame (bot → agent)

/** Own enumerable keys of `o` are all in `order` and come in that order (some may be absent). */
function keysInOrder(o: Json, order: readonly string[]): boolean {
  let i = 0;
  for (const key in o) {
    if (!hasOwn(o, key)) continue;
    while (i < order.length && order[i] !== key) i += 1;
    if (i === order.length) return false;
    i += 1;
  }
  return true;
}

const optionalString = (o: Json, key: string, min: number): boolean =>
  !hasOwn(o, key) || (typeof o[key] === "string" && (o[key] as string).length >= min);

const INPUT_KEYS = ["messages", "context"] as const;
const MESSAGE_KEYS = ["id", "role", "content", "sender", "senderName", "replaces"] as const;
const CONTEXT_KEYS = ["roomId", "isDirect", "inReplyTo"] as const;

/**
 * A run frame of the common kind (text messages, no resume, no media, no field the schema does not name, each
 * object's keys in the schema's order) checked by hand: the schema's output would be a copy equal key for key and in
 * the same order, so the frame is built around the same input. Undefined: RunFrameSchema judges.
 */
export function fastRunFrameV1(threadId: string, runId: string, input: unknown): RunFrame | undefined {
  if (!nonEmpty(threadId) || !nonEmpty(runId) || !isPlainObject(input) || !keysInOrder(input, INPUT_KEYS)) return undefined;
  const messages = input["messages"];
  const context = input["context"];
  if (!Array.isArray(messages) || messages.length === 0 || !isPlainObject(context) || !keysInOrder(context, CONTEXT_KEYS)) return undefined;
  if (!nonEmpty(context["roomId"]) || typeof context["isDirect"] !== "boolean" || !optionalString(context, "inReplyTo", 0)) return undefined;
  for (const m of messages as unknown[]) {
    if (!isPlainObject(m) || !keysInOrder(m, MESSAGE_KEYS)) return undefined;
    if (!nonEmpty(m["id"]) || m["role"] !== "user" || typeof m["content"] !== "string" || !nonEmpty(m["sender"])) return undefined;
    if (!optionalString(m, "senderName", 0) || !optionalString(m, "replaces", 1)) return undefined;
  }
  return { op: "run", threadId, runId, input: input as RunFrame["input"] };
}
