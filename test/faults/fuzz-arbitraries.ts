// fast-check arbitraries for the fuzz scenario: raw Matrix room events (as a broken or hostile homeserver or
// bridge could push them: fields missing or of the wrong type, huge or odd content, unicode, nested junk) and
// raw agent → bot frames (not JSON, wrong ops, wrong seqs, known event types with bad fields, unknown ones).
// Every value is JSON (it goes over the wire). Sampled with a fixed seed, so a failure replays exactly.
// Object content also carries the keys that trip code interpreting user objects (issue 14), added without drawing
// more randomness, so each seed still samples the events it sampled before.
import fc from "fast-check";
import { deepJson } from "../support/hostile-content";
import { eventId, roomId as anyRoomId, userId as anyUserId } from "../support/matrix-arbitraries";

const ODD_TEXT = ["", " ", "\u0000", "\u202E\u2066evil", "🧵🧵🧵", "Z͑ͫ̓ͪ̂ͫ̽͏̴̙̤̞͉͚̯̞̠͍", "<script>alert(1)</script>", "**bold** [x](javascript:alert(1))",
  "@room", "!help", "/reset", "/proactive on", "\ud800", "%s%s%n", "../../etc/passwd", "null", "{}"];

/** Strings people and bridges really produce, and a few nobody should. */
export const oddString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 3, arbitrary: fc.string({ unit: "grapheme", maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 30 }) },
  { weight: 2, arbitrary: fc.constantFrom(...ODD_TEXT) },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 64_000 }).map((n) => "ä".repeat(n)) },
);

/** Any JSON value, nested a little. */
export const junk: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: oddString },
  { weight: 1, arbitrary: fc.constantFrom(null, true, 0, -1, 1e308, [], {}, [[[]]], { "": { "": {} } }) },
);

/** A value that is usually of the expected shape, sometimes not. */
const mostly = <T>(good: fc.Arbitrary<T>, goodWeight = 4): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: goodWeight, arbitrary: good as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: junk });

export interface FuzzTargets {
  /** Rooms the bot is really in (so some events reach the parts past validation). */
  roomIds: string[];
  /** People the bot serves, and the bot itself. */
  userIds: string[];
  botUserId: string;
}

const messageContent = (t: FuzzTargets): fc.Arbitrary<unknown> => fc.record({
  msgtype: mostly(fc.constantFrom("m.text", "m.emote", "m.notice", "m.image", "m.file", "m.audio", "m.video", "m.bad")),
  body: mostly(oddString),
  format: fc.constantFrom("org.matrix.custom.html", "text/plain", 7),
  formatted_body: mostly(oddString),
  "m.mentions": mostly(fc.record({ user_ids: mostly(fc.array(fc.constantFrom(...t.userIds, "@room"))), room: junk }, { requiredKeys: [] })),
  "m.relates_to": mostly(fc.record({
    rel_type: mostly(fc.constantFrom("m.thread", "m.replace", "m.annotation", "x")),
    event_id: mostly(eventId),
    is_falling_back: junk,
    "m.in_reply_to": mostly(fc.record({ event_id: mostly(eventId) }, { requiredKeys: [] })),
  }, { requiredKeys: [] })),
  "m.new_content": junk,
  url: mostly(fc.webUrl()),
}, { requiredKeys: [] });

const b64 = (bytes: number): fc.Arbitrary<string> => fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((a) => Buffer.from(a).toString("base64").replace(/=+$/, ""));
const mxcUri: fc.Arbitrary<unknown> = mostly(fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9_-]{1,24}$/).map((id) => `mxc://localhost/${id}`),
  fc.constantFrom("mxc://", "mxc://localhost/", "mxc://localhost/a/b", "mxc://evil.example/../../x", "http://127.0.0.1/x", "mxc://[::1]:8448/x"),
));

/** An encrypted attachment's `file` (spec EncryptedFile): usually well-formed, with fields missing or wrong. */
export const encryptedFileField: fc.Arbitrary<unknown> = mostly(fc.record({
  url: mxcUri,
  key: mostly(fc.record({
    kty: mostly(fc.constant("oct")), alg: mostly(fc.constantFrom("A256CTR", "A128CTR")), key_ops: mostly(fc.constant(["encrypt", "decrypt"])),
    k: mostly(fc.oneof(b64(32).map((k) => k.replace(/\+/g, "-").replace(/\//g, "_")), b64(16))), ext: mostly(fc.constant(true)),
  }, { requiredKeys: [] })),
  iv: mostly(fc.oneof(b64(16), b64(8), fc.constant("!!!"))),
  hashes: mostly(fc.record({ sha256: mostly(b64(32)) }, { requiredKeys: [] })),
  v: mostly(fc.constantFrom("v2", "v1")),
}, { requiredKeys: [] }));

/** `info` of a media message: declared type and size, sometimes absurd. */
export const mediaInfoField: fc.Arbitrary<unknown> = mostly(fc.record({
  mimetype: mostly(fc.constantFrom("image/png", "image/jpeg", "audio/ogg", "video/mp4", "application/pdf", "application/x-msdownload", "")),
  size: mostly(fc.oneof(fc.nat({ max: 10_000_000 }), fc.constantFrom(-1, 1.5, 2 ** 60, Number.MAX_SAFE_INTEGER))),
  w: junk, h: junk, duration: junk, thumbnail_info: junk, thumbnail_url: junk,
}, { requiredKeys: [] }));

/** m.image, m.file, m.audio (voice), m.video with malformed `url`, `file` and `info` among the good ones. */
export const mediaMessageContent: fc.Arbitrary<unknown> = fc.record({
  msgtype: mostly(fc.constantFrom("m.image", "m.file", "m.audio", "m.video")),
  body: mostly(oddString),
  filename: mostly(oddString),
  url: mxcUri,
  file: encryptedFileField,
  info: mediaInfoField,
  "org.matrix.msc3245.voice": junk,
}, { requiredKeys: ["msgtype"] });

const memberContent: fc.Arbitrary<unknown> = fc.record({
  membership: mostly(fc.constantFrom("join", "invite", "leave", "ban", "knock", "JOIN", "")),
  displayname: mostly(oddString),
  is_direct: junk,
  reason: mostly(oddString),
}, { requiredKeys: [] });

const content = (t: FuzzTargets): fc.Arbitrary<unknown> => fc.oneof(
  { weight: 4, arbitrary: messageContent(t) },
  { weight: 2, arbitrary: mediaMessageContent },
  { weight: 2, arbitrary: memberContent },
  { weight: 1, arbitrary: fc.dictionary(oddString, junk, { maxKeys: 6 }) },
  { weight: 1, arbitrary: junk },
).map(withHostileKeys);

const DEEP_900 = deepJson(900);

/**
 * `toJSON`, `__proto__` (an own key, as JSON.parse makes it), `constructor` and `then` added to non-empty object content,
 * and on about one object in 40 (picked by the length of its JSON) a value nested 900 levels under those keys (costly
 * for the homeserver double: a few are enough here; the unit tests nest every event).
 */
function withHostileKeys(content: unknown): unknown {
  if (typeof content !== "object" || content === null || Array.isArray(content)) return content;
  const keys = Object.keys(content).length;
  if (keys === 0) return content; // empty content stays: it is what a redaction leaves
  const hostile = `{"toJSON":${keys},"then":{"then":1},"constructor":{"prototype":{"toJSON":true}},"__proto__":{"toJSON":1}`
    + `${(JSON.stringify(content)?.length ?? 0) % 40 === 0 ? `,"deep":${DEEP_900}` : ""}}`;
  return { ...(JSON.parse(hostile) as Record<string, unknown>), ...content };
}

/** A raw room event: every field optional and sometimes of the wrong type. */
export function rawRoomEvent(t: FuzzTargets): fc.Arbitrary<Record<string, unknown>> {
  const room = fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...t.roomIds) }, { weight: 3, arbitrary: anyRoomId }, { weight: 1, arbitrary: junk });
  const user = fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...t.userIds) }, { weight: 2, arbitrary: anyUserId }, { weight: 1, arbitrary: junk });
  const type = mostly(fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom("m.room.message", "m.room.member", "m.room.encrypted", "m.room.redaction", "m.reaction",
      "m.room.name", "m.room.create", "m.room.power_levels", "m.room.encryption", "m.sticker", "m.room.message.feedback") },
    { weight: 1, arbitrary: oddString },
  ), 6);
  return fc.record({
    event_id: mostly(eventId, 8),
    room_id: room,
    sender: user,
    type,
    content: content(t),
    origin_server_ts: mostly(fc.nat()),
    state_key: fc.oneof(fc.constant(t.botUserId), user, fc.constant("")),
    unsigned: mostly(fc.record({ age: junk, redacted_because: junk, transaction_id: junk, invite_room_state: junk }, { requiredKeys: [] })),
    redacts: mostly(eventId),
  }, { requiredKeys: [] });
}

const seq: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 100_000 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -1, 1.5, Number.MAX_SAFE_INTEGER, "7", null) },
);
const runId = fc.oneof({ weight: 3, arbitrary: fc.constantFrom("run-a", "run-b", "run-c") }, { weight: 3, arbitrary: fc.uuid() }, { weight: 1, arbitrary: junk });
const threadId = fc.oneof({ weight: 2, arbitrary: fc.constant("*") }, { weight: 2, arbitrary: oddString }, { weight: 1, arbitrary: junk });

/** v1 event words and every AG-UI 1.0 type (protocol v2), with the fields they use, sometimes wrong. */
const AGENT_EVENT_TYPES = [
  "RUN_STARTED", "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END", "TEXT_MESSAGE_CHUNK", "RUN_FINISHED", "RUN_ERROR",
  "TOOL_CALL_START", "TOOL_CALL_ARGS", "TOOL_CALL_END", "TOOL_CALL_CHUNK", "TOOL_CALL_RESULT", "STATE_SNAPSHOT", "STATE_DELTA",
  "MESSAGES_SNAPSHOT", "ACTIVITY_SNAPSHOT", "ACTIVITY_DELTA", "RAW", "CUSTOM", "STEP_STARTED", "STEP_FINISHED", "REASONING_START",
  "REASONING_MESSAGE_START", "REASONING_MESSAGE_CONTENT", "REASONING_MESSAGE_END", "REASONING_MESSAGE_CHUNK", "REASONING_END",
  "REASONING_ENCRYPTED_VALUE", "SUBAGENT_STARTED", "SUBAGENT_FINISHED", "SUBAGENT_ERROR", "UNKNOWN", "",
] as const;
const snapshotMessage = fc.record({
  id: mostly(fc.constantFrom("u1", "a1", "a2", "")),
  role: mostly(fc.constantFrom("user", "assistant", "tool", "system", "wizard")),
  content: fc.oneof(oddString, junk),
}, { requiredKeys: [] });

const agentEvent: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.record({
    type: mostly(fc.constantFrom(...AGENT_EVENT_TYPES)),
    messageId: mostly(fc.constantFrom("m1", "m2", "")),
    delta: mostly(oddString),
    code: mostly(fc.constantFrom("thread_busy", "rate_limited", "internal", "nope")),
    message: mostly(oddString),
    retryable: junk,
    threadId: mostly(fc.constantFrom("*", "t1")),
    runId: mostly(fc.constantFrom("run-a", "run-b", "run-c")),
    role: mostly(fc.constantFrom("assistant", "user", "reasoning", "robot")),
    outcome: mostly(fc.oneof(fc.constantFrom({ type: "success" }, { type: "cancelled" }, { type: "interrupt", interrupts: [] }), junk)),
    messages: mostly(fc.array(snapshotMessage, { maxLength: 4 })),
    toolCallId: mostly(fc.constantFrom("c1", "")),
    toolCallName: mostly(oddString),
    subagentRunId: mostly(fc.constantFrom("s1", "s2")),
    stepName: mostly(oddString),
    snapshot: junk,
    name: mostly(oddString),
    value: junk,
  }, { requiredKeys: ["type"] }) },
  { weight: 1, arbitrary: junk },
);

/** One raw frame as text: mostly JSON objects with a plausible op, sometimes not JSON at all. */
export const rawAgentFrame: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: fc.record({
    op: mostly(fc.constantFrom("event", "event", "event", "ready", "error", "ping", "hello", "ack", "")),
    seq, threadId, runId, proactive: mostly(fc.boolean()), event: agentEvent,
    sessionId: mostly(oddString), resumed: junk, heartbeatMs: junk, code: junk, message: junk,
  }, { requiredKeys: ["op"] }).map((frame) => JSON.stringify(frame)) },
  { weight: 1, arbitrary: junk.map((v) => JSON.stringify(v) ?? "null") },
  { weight: 1, arbitrary: oddString },
);
