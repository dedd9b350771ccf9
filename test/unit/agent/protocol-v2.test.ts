// Protocol v2 frame parsing: every AG-UI 1.0 event type, valid and invalid, through the bot's frame parser; the
// envelope rule for RUN_STARTED/RUN_FINISHED; unknown types; the negotiation frames; RunAgentInput both ways.
import { EventType } from "@ag-ui/core";
import { parseAgentFrame, parseBotFrame, versionOf, type ReadyFrame } from "../../../src/agent/protocol";
import { fromRunAgentInput, toRunAgentInput } from "../../../src/agent/protocol-v2";

const T = "t-1";
const R = "r-1";
const envelope = (event: unknown): string => JSON.stringify({ op: "event", seq: 1, threadId: T, runId: R, event });

/** One valid and one invalid event of each AG-UI 1.0 type (the invalid one breaks that type's own schema). */
const SAMPLES: Record<EventType, { valid: Record<string, unknown>; invalid: Record<string, unknown> }> = {
  TEXT_MESSAGE_START: { valid: { messageId: "m", role: "assistant" }, invalid: { messageId: 7 } },
  TEXT_MESSAGE_CONTENT: { valid: { messageId: "m", delta: "hi" }, invalid: { messageId: "m" } },
  TEXT_MESSAGE_END: { valid: { messageId: "m" }, invalid: {} },
  TEXT_MESSAGE_CHUNK: { valid: { messageId: "m", delta: "hi" }, invalid: { role: "robot" } },
  TOOL_CALL_START: { valid: { toolCallId: "c", toolCallName: "search" }, invalid: { toolCallId: "c" } },
  TOOL_CALL_ARGS: { valid: { toolCallId: "c", delta: "{}" }, invalid: { toolCallId: "c", delta: 1 } },
  TOOL_CALL_END: { valid: { toolCallId: "c" }, invalid: { toolCallId: null } },
  TOOL_CALL_CHUNK: { valid: { toolCallId: "c", toolCallName: "search", delta: "{" }, invalid: { delta: 5 } },
  TOOL_CALL_RESULT: { valid: { messageId: "m", toolCallId: "c", content: "42" }, invalid: { messageId: "m", toolCallId: "c" } },
  STATE_SNAPSHOT: { valid: { snapshot: { a: 1 } }, invalid: {} },
  STATE_DELTA: { valid: { delta: [{ op: "add", path: "/a", value: 1 }] }, invalid: { delta: [{ op: "jump", path: "/a" }] } },
  MESSAGES_SNAPSHOT: { valid: { messages: [{ id: "a", role: "assistant", content: "hi" }] }, invalid: { messages: [{ id: "a", role: "wizard" }] } },
  ACTIVITY_SNAPSHOT: { valid: { messageId: "m", activityType: "plan", content: { steps: [] } }, invalid: { messageId: "m", activityType: "plan", content: [] } },
  ACTIVITY_DELTA: { valid: { messageId: "m", activityType: "plan", patch: [] }, invalid: { messageId: "m", patch: [] } },
  RAW: { valid: { event: { anything: true }, source: "x" }, invalid: { source: "x" } },
  CUSTOM: { valid: { name: "matrix.attachment", value: {} }, invalid: { value: {} } },
  RUN_STARTED: { valid: { threadId: T, runId: R }, invalid: { threadId: T } },
  RUN_FINISHED: { valid: { threadId: T, runId: R, outcome: { type: "cancelled" } }, invalid: { threadId: T, runId: R, outcome: { type: "exploded" } } },
  RUN_ERROR: { valid: { message: "no", code: "rate_limited" }, invalid: { code: "rate_limited" } },
  STEP_STARTED: { valid: { stepName: "plan" }, invalid: {} },
  STEP_FINISHED: { valid: { stepName: "plan" }, invalid: { stepName: ["plan"] } },
  REASONING_START: { valid: { messageId: "m" }, invalid: {} },
  REASONING_MESSAGE_START: { valid: { messageId: "m", role: "reasoning" }, invalid: { messageId: "m", role: "assistant" } },
  REASONING_MESSAGE_CONTENT: { valid: { messageId: "m", delta: "hmm" }, invalid: { messageId: "m" } },
  REASONING_MESSAGE_END: { valid: { messageId: "m" }, invalid: { messageId: false } },
  REASONING_MESSAGE_CHUNK: { valid: { messageId: "m", delta: "hmm" }, invalid: { delta: {} } },
  REASONING_END: { valid: { messageId: "m" }, invalid: {} },
  REASONING_ENCRYPTED_VALUE: { valid: { subtype: "message", entityId: "m", encryptedValue: "x" }, invalid: { subtype: "secret", entityId: "m", encryptedValue: "x" } },
  SUBAGENT_STARTED: { valid: { subagentRunId: "s", name: "helper" }, invalid: { name: "helper" } },
  SUBAGENT_FINISHED: { valid: { subagentRunId: "s" }, invalid: { subagentRunId: "s", outcome: { type: "maybe" } } },
  SUBAGENT_ERROR: { valid: { subagentRunId: "s", message: "failed" }, invalid: { subagentRunId: "s" } },
};

describe("the v2 frame parser, per AG-UI 1.0 event type", () => {
  test("the samples cover every AG-UI 1.0 event type", () => {
    expect(Object.keys(SAMPLES).sort()).toEqual(Object.values(EventType).sort());
  });

  test.each(Object.entries(SAMPLES))("%s: a valid event parses, an invalid one fails its frame and names the run", (type, { valid, invalid }) => {
    const ok = parseAgentFrame(envelope({ type, ...valid }), 2);
    expect(ok).toMatchObject({ ok: true, frame: { op: "event", runId: R, event: { kind: "agui", event: { type, ...valid } } } });
    const bad = parseAgentFrame(envelope({ type, ...invalid }), 2);
    expect(bad).toMatchObject({ ok: false, runId: R });
  });
});

test("RUN_STARTED and RUN_FINISHED must name the envelope's thread and run", () => {
  expect(parseAgentFrame(envelope({ type: "RUN_STARTED", threadId: "other", runId: R }), 2))
    .toMatchObject({ ok: false, runId: R, error: expect.stringContaining("threadId") });
  expect(parseAgentFrame(envelope({ type: "RUN_FINISHED", threadId: T, runId: "r-2" }), 2))
    .toMatchObject({ ok: false, runId: R, error: expect.stringContaining("runId") });
});

test("a type AG-UI 1.0 does not define parses as unknown (ignored), whatever its fields", () => {
  expect(parseAgentFrame(envelope({ type: "TELEPORT_STARTED", where: 1 }), 2))
    .toMatchObject({ ok: true, frame: { event: { kind: "unknown", type: "TELEPORT_STARTED" } } });
});

test("v1 events are not valid v2 events where AG-UI requires more (RUN_STARTED without its run)", () => {
  expect(parseAgentFrame(envelope({ type: "RUN_STARTED" }), 1)).toMatchObject({ ok: true });
  expect(parseAgentFrame(envelope({ type: "RUN_STARTED" }), 2)).toMatchObject({ ok: false, runId: R });
});

test("negotiation: a ready without protocol is v1; with matrix-agent/2 it is v2 and may carry AG-UI capabilities", () => {
  const ready = (extra: object): ReadyFrame => {
    const parsed = parseAgentFrame(JSON.stringify({ op: "ready", sessionId: "s", resumed: false, ...extra }));
    if (!parsed.ok || parsed.frame.op !== "ready") throw new Error("ready did not parse");
    return parsed.frame;
  };
  expect(versionOf(ready({}))).toBe(1);
  expect(versionOf(ready({ protocol: "matrix-agent/1" }))).toBe(1);
  const v2 = ready({ protocol: "matrix-agent/2", capabilities: { multimodal: { input: { image: true } }, humanInTheLoop: { interrupts: true } } });
  expect(versionOf(v2)).toBe(2);
  expect(v2.capabilities).toEqual({ multimodal: { input: { image: true } }, humanInTheLoop: { interrupts: true } });
  // A protocol the bot did not offer, or capabilities of the wrong shape: the ready is refused.
  expect(parseAgentFrame(JSON.stringify({ op: "ready", sessionId: "s", resumed: false, protocol: "matrix-agent/9" }))).toMatchObject({ ok: false });
  expect(parseAgentFrame(JSON.stringify({ op: "ready", sessionId: "s", resumed: false, protocol: "matrix-agent/2", capabilities: { tools: 1 } })))
    .toMatchObject({ ok: false });
});

test("run input: the bot's input becomes a RunAgentInput (name, metadata.sender, context entries) and back", () => {
  const input = {
    messages: [{ id: "$e1", role: "user" as const, content: "hi", sender: "@alice:example.org", senderName: "Alice" }],
    context: { roomId: "!r:example.org", isDirect: false, inReplyTo: "the quoted text", threadRootId: "$root" },
  };
  const v2 = toRunAgentInput("t1", "$e1", input);
  expect(v2).toEqual({
    threadId: "t1", runId: "$e1", tools: [],
    messages: [{ id: "$e1", role: "user", content: "hi", name: "Alice", metadata: { sender: "@alice:example.org" } }],
    context: [
      { description: "roomId", value: "!r:example.org" },
      { description: "isDirect", value: "false" },
      { description: "threadRootId", value: "$root" },
      { description: "inReplyTo", value: "the quoted text" },
    ],
  });
  const frame = parseBotFrame(JSON.stringify({ op: "run", threadId: "t1", runId: "$e1", input: v2 }), 2);
  if (!frame.ok || frame.frame.op !== "run") throw new Error("the v2 run frame did not parse");
  expect(fromRunAgentInput(frame.frame.input)).toEqual(input);
  // A v2 run frame is not a v1 one (context is a list), and the other way round.
  expect(parseBotFrame(JSON.stringify({ op: "run", threadId: "t1", runId: "$e1", input: v2 }), 1)).toMatchObject({ ok: false, runId: "$e1" });
  expect(parseBotFrame(JSON.stringify({ op: "run", threadId: "t1", runId: "$e1", input }), 2)).toMatchObject({ ok: false, runId: "$e1" });
});
