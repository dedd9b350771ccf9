// The v1 event frame's fast path (src/agent/frame-fast-path.ts) decides as AgentFrameSchema does: every frame it
// takes, the schema accepts with the same content in the same key order; every other frame goes to the schema.
import fc from "fast-check";
import { fastEventFrameV1, fastRunFrameV1 } from "../../../src/agent/frame-fast-path";
import { AgentFrameSchema, RunFrameSchema, parseAgentFrame } from "../../../src/agent/protocol";

/** What the full schema alone makes of `raw` (the behaviour before the fast path). */
function bySchema(raw: string): { ok: boolean; text?: string } {
  const parsed = AgentFrameSchema.safeParse(JSON.parse(raw));
  return parsed.success ? { ok: true, text: JSON.stringify(parsed.data) } : { ok: false };
}

function viaParser(raw: string): { ok: boolean; text?: string } {
  const parsed = parseAgentFrame(raw);
  return parsed.ok ? { ok: true, text: JSON.stringify(parsed.frame) } : { ok: false };
}

const envelope = { op: "event", seq: 7, threadId: "t1", runId: "r1" };
const common = [
  { type: "RUN_STARTED" },
  { type: "TEXT_MESSAGE_START", messageId: "m1" },
  { type: "TEXT_MESSAGE_CONTENT", messageId: "m1", delta: "ok" },
  { type: "TEXT_MESSAGE_END", messageId: "m1" },
  { type: "RUN_FINISHED" },
];

test("the five frames of a turn take the fast path and come out as the schema outputs them", () => {
  for (const event of common) {
    for (const frame of [{ ...envelope, event }, { event, runId: "r1", threadId: "t1", seq: 0, op: "event" }, { ...envelope, proactive: true, event }]) {
      const raw = JSON.stringify(frame);
      expect(fastEventFrameV1(JSON.parse(raw) as Record<string, unknown>)).toBeDefined();
      expect(viaParser(raw)).toEqual(bySchema(raw));
      expect(viaParser(raw).ok).toBe(true);
    }
  }
});

test("frames the fast path is not sure of are judged by the schema: same accept/reject, same content", () => {
  const events: unknown[] = [
    ...common,
    { type: "TEXT_MESSAGE_START", messageId: "" }, { type: "TEXT_MESSAGE_START" }, { type: "TEXT_MESSAGE_CONTENT", messageId: "m", delta: 1 },
    { type: "TEXT_MESSAGE_CONTENT", messageId: "m" }, { type: "TEXT_MESSAGE_END", messageId: 3 },
    { type: "RUN_FINISHED", usage: [{ totalTokens: 3 }] }, { type: "RUN_STARTED", extra: 1 }, { type: "TEXT_MESSAGE_CONTENT", messageId: "m", delta: "d", x: null },
    { type: "RUN_ERROR", code: "internal", message: "boom" }, { type: "RUN_ERROR", code: "nope", message: "boom" },
    { type: "TOOL_CALL_START" }, { type: "UNKNOWN" }, { type: 5 }, {}, [], null, "RUN_STARTED", { type: "RUN_STARTED", __proto__: 1 },
  ];
  const envelopes: Record<string, unknown>[] = [
    envelope, { ...envelope, seq: -1 }, { ...envelope, seq: 1.5 }, { ...envelope, seq: "7" }, { ...envelope, seq: 2 ** 53 },
    { ...envelope, seq: -0 }, { ...envelope, threadId: "" }, { ...envelope, runId: 4 }, { op: "event", seq: 1, threadId: "t" },
    { ...envelope, proactive: "yes" }, { ...envelope, proactive: false }, { ...envelope, extra: { a: 1 } }, { ...envelope, op: "ready" },
    { ...envelope, op: "error", code: "c", message: "m" },
  ];
  for (const e of envelopes) {
    for (const event of events) {
      const raw = JSON.stringify({ ...e, event });
      expect({ raw, result: viaParser(raw) }).toEqual({ raw, result: bySchema(raw) });
    }
    const without = JSON.stringify(e);
    expect(viaParser(without)).toEqual(bySchema(without));
  }
});

test("property: on any frame-like object, mostly well-formed, the parser decides and outputs as the schema alone", () => {
  const value = fc.oneof(fc.constant("m1"), fc.constant(""), fc.integer({ min: -3, max: 3 }), fc.double(), fc.boolean(), fc.constant(null),
    fc.string(), fc.constant([]), fc.constant({}));
  const often = <T>(good: fc.Arbitrary<T>) => fc.oneof({ arbitrary: good, weight: 4 }, { arbitrary: value, weight: 1 });
  const eventType = often(fc.constantFrom("RUN_STARTED", "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END", "RUN_FINISHED",
    "RUN_ERROR", "UNKNOWN", "OTHER"));
  const event = fc.record({ type: eventType, messageId: often(fc.constant("m1")), delta: often(fc.string()), extra: value },
    { requiredKeys: ["type"] });
  const frame = fc.record({ op: often(fc.constant("event")), seq: fc.oneof(fc.nat(), fc.nat(), fc.integer({ min: -3, max: -1 }), fc.double(), value), threadId: often(fc.constant("t1")),
    runId: often(fc.constant("r1")), proactive: value, event: fc.oneof({ arbitrary: fc.constantFrom(...common), weight: 3 }, { arbitrary: event, weight: 2 }, { arbitrary: value, weight: 1 }), other: value }, { requiredKeys: ["op", "seq", "threadId", "runId", "event"] });
  let accepted = 0;
  fc.assert(fc.property(frame, (f) => {
    const raw = JSON.stringify(f);
    const result = viaParser(raw);
    expect(result).toEqual(bySchema(raw));
    if (result.ok) accepted += 1;
  }), { numRuns: 5000 });
  expect(accepted).toBeGreaterThan(200); // the property saw well-formed frames, not only rejections
});

// ---------------------------------------------------------------- the run frame

/** A frame the fast path builds is the one the schema outputs (same JSON text on the wire); else it leaves it to the schema. */
function checkRun(threadId: unknown, runId: unknown, input: unknown): boolean {
  const fast = fastRunFrameV1(threadId as string, runId as string, input);
  if (fast === undefined) return false;
  const parsed = RunFrameSchema.safeParse({ op: "run", threadId, runId, input });
  expect(parsed.success).toBe(true);
  expect(JSON.stringify(fast)).toBe(JSON.stringify(parsed.data));
  return true;
}

test("a turn's run frame takes the fast path and is sent as the schema outputs it", () => {
  const message = { id: "$e1", role: "user", content: "hi", sender: "@u:x" };
  expect(checkRun("t1", "r1", { messages: [message], context: { roomId: "!r:x", isDirect: false } })).toBe(true);
  expect(checkRun("t1", "r1", { messages: [{ ...message, senderName: "U", replaces: "$e0" }, message],
    context: { roomId: "!r:x", isDirect: true, inReplyTo: "$q" } })).toBe(true);
  // Left to the schema: extra or reordered keys (the schema's copy would reorder them), media, resume, no message.
  expect(checkRun("t1", "r1", { messages: [message], context: { roomId: "!r:x", isDirect: false, threadRootId: "$t" } })).toBe(false);
  expect(checkRun("t1", "r1", { messages: [message], context: { isDirect: false, roomId: "!r:x" } })).toBe(false);
  expect(checkRun("t1", "r1", { messages: [{ ...message, extra: 1 }], context: { roomId: "!r:x", isDirect: false } })).toBe(false);
  expect(checkRun("t1", "r1", { messages: [{ ...message, media: {} }], context: { roomId: "!r:x", isDirect: false } })).toBe(false);
  expect(checkRun("t1", "r1", { messages: [], resume: [], context: { roomId: "!r:x", isDirect: false } })).toBe(false);
  expect(checkRun("t1", "r1", { messages: [], context: { roomId: "!r:x", isDirect: false } })).toBe(false);
  expect(checkRun("", "r1", { messages: [message], context: { roomId: "!r:x", isDirect: false } })).toBe(false);
});

test("property: a run frame the fast path takes is valid and identical to the schema's output; the rest is the schema's", () => {
  const value = fc.oneof(fc.constant(""), fc.constant("x"), fc.integer({ min: -1, max: 1 }), fc.boolean(), fc.constant(null), fc.constant([]));
  const often = <T>(good: fc.Arbitrary<T>) => fc.oneof({ arbitrary: good, weight: 4 }, { arbitrary: value, weight: 1 });
  const message = fc.record({ id: often(fc.constant("$e")), role: often(fc.constant("user")), content: often(fc.string()),
    sender: often(fc.constant("@u:x")), senderName: often(fc.string()), replaces: often(fc.constant("$o")) },
  { requiredKeys: ["id", "role", "content", "sender"] });
  const context = fc.record({ roomId: often(fc.constant("!r:x")), isDirect: often(fc.boolean()), inReplyTo: often(fc.string()) },
    { requiredKeys: ["roomId", "isDirect"] });
  const input = fc.record({ messages: often(fc.array(often(message), { maxLength: 3 })), context: often(context) },
    { requiredKeys: ["messages", "context"] });
  let taken = 0;
  fc.assert(fc.property(often(fc.constant("t1")), often(fc.constant("r1")), input, (threadId, runId, i) => {
    if (checkRun(threadId, runId, i)) taken += 1;
  }), { numRuns: 3000 });
  expect(taken).toBeGreaterThan(30);
});
