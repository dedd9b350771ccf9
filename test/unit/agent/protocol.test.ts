// Protocol v1 frame parsing: what the bot accepts from an agent, and what it salvages from bad frames.
import { parseAgentFrame, parseBotFrame, PROTOCOL, RUN_ERROR_CODES } from "../../../src/agent/protocol";

const frame = (o: object): string => JSON.stringify(o);

test("the protocol name and the RUN_ERROR codes are the documented ones", () => {
  expect(PROTOCOL).toBe("matrix-agent/1");
  // Pinned here on purpose (not imported): renaming or dropping a code breaks agents, so it must fail this test.
  const documented = [
    "thread_busy", "rate_limited", "upstream_unavailable", "context_too_long", "timeout", "cancelled", "auth", "internal",
  ];
  expect([...RUN_ERROR_CODES]).toEqual(documented);
});

test("every documented agent frame parses", () => {
  const samples = [
    { op: "ready", sessionId: "s-7f", resumed: true, heartbeatMs: 25000 },
    { op: "event", seq: 1042, threadId: "t", runId: "r", event: { type: "RUN_STARTED" } },
    { op: "event", seq: 1043, threadId: "t", runId: "r", event: { type: "TEXT_MESSAGE_START", messageId: "m1" } },
    { op: "event", seq: 1044, threadId: "t", runId: "r", event: { type: "TEXT_MESSAGE_CONTENT", messageId: "m1", delta: "We " } },
    { op: "event", seq: 1045, threadId: "t", runId: "r", event: { type: "TEXT_MESSAGE_END", messageId: "m1" } },
    { op: "event", seq: 1046, threadId: "*", runId: "r", proactive: true, event: { type: "RUN_FINISHED" } },
    {
      op: "event",
      seq: 1047,
      threadId: "t",
      runId: "r",
      event: { type: "RUN_ERROR", code: "rate_limited", message: "Too many requests", retryable: true },
    },
    { op: "error", runId: "r", code: "bad_frame", message: "unknown op" },
    { op: "error", code: "bad_frame", message: "no run" },
  ];
  for (const s of samples) expect(parseAgentFrame(frame(s))).toMatchObject({ ok: true });
});

test("an unknown event type parses as UNKNOWN (to be ignored), not as an error", () => {
  const r = parseAgentFrame(frame({ op: "event", seq: 1, threadId: "t", runId: "r", event: { type: "TOOL_CALL_START", x: 1 } }));
  expect(r).toEqual({
    ok: true,
    frame: { op: "event", seq: 1, threadId: "t", runId: "r", event: { type: "UNKNOWN", originalType: "TOOL_CALL_START" } },
  });
});

test("a known event type with bad fields is an error that names the run", () => {
  const r = parseAgentFrame(frame({ op: "event", seq: 1, threadId: "t", runId: "r9", event: { type: "TEXT_MESSAGE_CONTENT" } }));
  expect(r).toMatchObject({ ok: false, runId: "r9" });
  const code = parseAgentFrame(
    frame({ op: "event", seq: 2, threadId: "t", runId: "r9", event: { type: "RUN_ERROR", code: "oops", message: "" } }),
  );
  expect(code).toMatchObject({ ok: false, runId: "r9" });
});

test("malformed frames: the runId is salvaged only when it is a string", () => {
  expect(parseAgentFrame("nope")).toEqual({ ok: false, error: "not JSON" });
  expect(parseAgentFrame("[1]")).toMatchObject({ ok: false });
  expect(parseAgentFrame(frame({ op: "event", runId: 7 }))).not.toHaveProperty("runId");
  expect(parseAgentFrame(frame({ op: "event", runId: "r1", seq: -1 }))).toMatchObject({ ok: false, runId: "r1" });
  expect(parseAgentFrame(frame({ op: "teleport", runId: "r2" }))).toMatchObject({ ok: false, runId: "r2" });
});

test("bot frames: run input carries messages and context; extra context fields pass through", () => {
  const run = {
    op: "run",
    threadId: "t",
    runId: "$ev",
    input: {
      messages: [{ id: "$ev", role: "user", content: "hi", sender: "@alice:example.org", senderName: "Alice" }],
      context: { roomId: "!r:example.org", isDirect: true, inReplyTo: "quoted", roomName: "Lounge" },
    },
  };
  expect(parseBotFrame(frame(run))).toEqual({ ok: true, frame: run });
  expect(parseBotFrame(frame({ op: "nack", seq: 1070, reason: "room_gone", permanent: true }))).toMatchObject({ ok: true });
  expect(parseBotFrame(frame({ op: "run", threadId: "t", runId: "x", input: { messages: [], context: {} } }))).toMatchObject({
    ok: false,
    runId: "x",
  });
});
