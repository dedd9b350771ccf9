// The v2 event decoder: *_CHUNK expansion as @ag-ui/client's transformChunks does it, assistant text only,
// MESSAGES_SNAPSHOT text, the RUN_FINISHED outcome and RUN_ERROR codes, tool calls, steps and reasoning as WORK.
import { EventSchema } from "@ag-ui/core/schemas";
import { AguiDecoder, type RunEvent } from "../../../src/agent/run-events";

/** Decodes AG-UI events (parsed with the official schema first) in one run; throws on a decode error. */
function decodeAll(...raw: Array<Record<string, unknown>>): RunEvent[] {
  const decoder = new AguiDecoder();
  return raw.flatMap((r) => {
    const result = decoder.decode(EventSchema.parse(r));
    if (!result.ok) throw new Error(result.error);
    return result.events;
  });
}

const START = { type: "RUN_STARTED", threadId: "t", runId: "r" };
const FINISH = { type: "RUN_FINISHED", threadId: "t", runId: "r" };

test("TEXT_MESSAGE_CHUNKs expand to start, content and an end when another event closes the stream", () => {
  expect(decodeAll(
    START,
    { type: "TEXT_MESSAGE_CHUNK", messageId: "a", delta: "Hel" },
    { type: "TEXT_MESSAGE_CHUNK", delta: "lo" }, // continues "a"
    { type: "TEXT_MESSAGE_CHUNK", messageId: "a", delta: "!" },
    { type: "TEXT_MESSAGE_CHUNK", messageId: "b", delta: "Next" }, // another id closes "a"
    { type: "STEP_STARTED", stepName: "x" }, // an event of the same lane closes "b"
    FINISH,
  )).toEqual([
    { type: "RUN_STARTED" },
    { type: "TEXT_MESSAGE_START", messageId: "a" },
    { type: "TEXT_MESSAGE_CONTENT", messageId: "a", delta: "Hel" },
    { type: "TEXT_MESSAGE_CONTENT", messageId: "a", delta: "lo" },
    { type: "TEXT_MESSAGE_CONTENT", messageId: "a", delta: "!" },
    { type: "TEXT_MESSAGE_END", messageId: "a" },
    { type: "TEXT_MESSAGE_START", messageId: "b" },
    { type: "TEXT_MESSAGE_CONTENT", messageId: "b", delta: "Next" },
    { type: "TEXT_MESSAGE_END", messageId: "b" },
    { type: "WORK", work: { kind: "step_start", name: "x" } },
    { type: "RUN_FINISHED", outcome: "success" },
  ]);
});

test("a chunk stream still open at RUN_FINISHED is closed before it; a subagent's lane is its own", () => {
  const events = decodeAll(
    START,
    { type: "TEXT_MESSAGE_CHUNK", messageId: "a", delta: "main" },
    { type: "TEXT_MESSAGE_CHUNK", messageId: "s", subagentRunId: "sub", delta: "sub" },
    { type: "TEXT_MESSAGE_CHUNK", delta: " more" }, // the agent's own lane: continues "a"
    FINISH,
  );
  expect(events.filter((e) => e.type !== "RUN_STARTED")).toEqual([
    { type: "TEXT_MESSAGE_START", messageId: "a" },
    { type: "TEXT_MESSAGE_CONTENT", messageId: "a", delta: "main" },
    { type: "TEXT_MESSAGE_START", messageId: "s" },
    { type: "TEXT_MESSAGE_CONTENT", messageId: "s", delta: "sub" },
    { type: "TEXT_MESSAGE_CONTENT", messageId: "a", delta: " more" },
    { type: "TEXT_MESSAGE_END", messageId: "a" },
    { type: "TEXT_MESSAGE_END", messageId: "s" },
    { type: "RUN_FINISHED", outcome: "success" },
  ]);
});

test("the first chunk of a stream without an id breaks the protocol", () => {
  const decoder = new AguiDecoder();
  expect(decoder.decode(EventSchema.parse({ type: "TEXT_MESSAGE_CHUNK", delta: "orphan" })))
    .toEqual({ ok: false, error: expect.stringContaining("must name its id") });
});

test("a tool call chunk closes an open text chunk stream of its lane, and is closed by the next text chunk", () => {
  expect(decodeAll(
    { type: "TEXT_MESSAGE_CHUNK", messageId: "a", delta: "Let me look" },
    { type: "TOOL_CALL_CHUNK", toolCallId: "c1", toolCallName: "search", delta: "{}" },
    { type: "TEXT_MESSAGE_CHUNK", messageId: "b", delta: "Found it" },
  )).toEqual([
    { type: "TEXT_MESSAGE_START", messageId: "a" },
    { type: "TEXT_MESSAGE_CONTENT", messageId: "a", delta: "Let me look" },
    { type: "TEXT_MESSAGE_END", messageId: "a" },
    { type: "WORK", work: { kind: "tool_start", toolCallId: "c1", name: "search" } },
    { type: "WORK", work: { kind: "tool_args", toolCallId: "c1", delta: "{}" } },
    { type: "WORK", work: { kind: "tool_end", toolCallId: "c1" } },
    { type: "TEXT_MESSAGE_START", messageId: "b" },
    { type: "TEXT_MESSAGE_CONTENT", messageId: "b", delta: "Found it" },
  ]);
});

test("only assistant text is shown: a text message of another role is ignored", () => {
  expect(decodeAll(
    { type: "TEXT_MESSAGE_START", messageId: "sys", role: "system" },
    { type: "TEXT_MESSAGE_CONTENT", messageId: "sys", delta: "secret instructions" },
    { type: "TEXT_MESSAGE_END", messageId: "sys" },
    { type: "TEXT_MESSAGE_CHUNK", messageId: "dev", role: "developer", delta: "also hidden" },
    { type: "TEXT_MESSAGE_START", messageId: "a" }, // no role: assistant
  ).filter((e) => e.type !== "UNKNOWN")).toEqual([{ type: "TEXT_MESSAGE_START", messageId: "a" }]);
});

test("MESSAGES_SNAPSHOT: the assistant messages after the last user message, with text", () => {
  expect(decodeAll({
    type: "MESSAGES_SNAPSHOT",
    messages: [
      { id: "u1", role: "user", content: "old question" },
      { id: "a1", role: "assistant", content: "old answer" },
      { id: "u2", role: "user", content: "new question" },
      { id: "tc", role: "assistant", toolCalls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}" } }] },
      { id: "t", role: "tool", toolCallId: "c", content: "42" },
      { id: "a2", role: "assistant", content: "The answer is 42." },
    ],
  })).toEqual([{ type: "MESSAGES_SNAPSHOT", texts: [{ messageId: "a2", text: "The answer is 42." }] }]);
});

test("RUN_FINISHED carries its outcome; RUN_ERROR codes outside ours become internal", () => {
  expect(decodeAll({ ...FINISH, outcome: { type: "cancelled" } })).toEqual([{ type: "RUN_FINISHED", outcome: "cancelled" }]);
  expect(decodeAll({ type: "RUN_ERROR", message: "slow down", code: "rate_limited", retryable: true }))
    .toEqual([{ type: "RUN_ERROR", code: "rate_limited", message: "slow down", retryable: true }]);
  expect(decodeAll({ type: "RUN_ERROR", message: "boom", code: "E_PROVIDER_42" }))
    .toEqual([{ type: "RUN_ERROR", code: "internal", message: "boom", retryable: false }]);
  expect(decodeAll({ type: "RUN_ERROR", message: "no code" })).toEqual([{ type: "RUN_ERROR", code: "internal", message: "no code", retryable: false }]);
});

test("tool calls, their results (an `error` string marks a failure), steps and reasoning become WORK events", () => {
  expect(decodeAll(
    { type: "STEP_STARTED", stepName: "research" },
    { type: "REASONING_START", messageId: "r" },
    { type: "REASONING_MESSAGE_START", messageId: "r", role: "reasoning" },
    { type: "REASONING_MESSAGE_CONTENT", messageId: "r", delta: "I should search." },
    { type: "REASONING_MESSAGE_END", messageId: "r" },
    { type: "REASONING_END", messageId: "r" },
    { type: "TOOL_CALL_START", toolCallId: "c1", toolCallName: "search_docs", parentMessageId: "m" },
    { type: "TOOL_CALL_ARGS", toolCallId: "c1", delta: "{\"q\":1}" },
    { type: "TOOL_CALL_END", toolCallId: "c1" },
    { type: "TOOL_CALL_RESULT", messageId: "t1", toolCallId: "c1", content: [{ type: "text", text: "3 pages" }, { type: "image", source: { type: "url", value: "https://x/y.png" } }] },
    { type: "TOOL_CALL_START", toolCallId: "c2", toolCallName: "fetch" },
    { type: "TOOL_CALL_RESULT", messageId: "t2", toolCallId: "c2", content: "Error: timeout", error: "timeout" },
    { type: "STEP_FINISHED", stepName: "research" },
  ).filter((e) => e.type !== "UNKNOWN")).toEqual([
    { type: "WORK", work: { kind: "step_start", name: "research" } },
    { type: "WORK", work: { kind: "reasoning", messageId: "r", delta: "I should search." } },
    { type: "WORK", work: { kind: "tool_start", toolCallId: "c1", name: "search_docs" } },
    { type: "WORK", work: { kind: "tool_args", toolCallId: "c1", delta: "{\"q\":1}" } },
    { type: "WORK", work: { kind: "tool_end", toolCallId: "c1" } },
    { type: "WORK", work: { kind: "tool_result", toolCallId: "c1", content: "3 pages\n[image]" } },
    { type: "WORK", work: { kind: "tool_start", toolCallId: "c2", name: "fetch" } },
    { type: "WORK", work: { kind: "tool_result", toolCallId: "c2", content: "Error: timeout", error: "timeout" } },
    { type: "WORK", work: { kind: "step_end", name: "research" } },
  ]);
});

test("REASONING_MESSAGE_CHUNKs expand to reasoning deltas; a TOOL_CALL_CHUNK stream must name its tool first", () => {
  expect(decodeAll(
    { type: "REASONING_MESSAGE_CHUNK", messageId: "r", delta: "Hm, " },
    { type: "REASONING_MESSAGE_CHUNK", delta: "let me think." },
    { type: "TOOL_CALL_CHUNK", toolCallId: "c", toolCallName: "calc", delta: "{\"e\":" },
    { type: "TOOL_CALL_CHUNK", toolCallId: "c", delta: "\"1+1\"}" },
    FINISH,
  ).filter((e) => e.type === "WORK")).toEqual([
    { type: "WORK", work: { kind: "reasoning", messageId: "r", delta: "Hm, " } },
    { type: "WORK", work: { kind: "reasoning", messageId: "r", delta: "let me think." } },
    { type: "WORK", work: { kind: "tool_start", toolCallId: "c", name: "calc" } },
    { type: "WORK", work: { kind: "tool_args", toolCallId: "c", delta: "{\"e\":" } },
    { type: "WORK", work: { kind: "tool_args", toolCallId: "c", delta: "\"1+1\"}" } },
    { type: "WORK", work: { kind: "tool_end", toolCallId: "c" } },
  ]);
  expect(new AguiDecoder().decode(EventSchema.parse({ type: "TOOL_CALL_CHUNK", toolCallId: "c", delta: "{}" })))
    .toEqual({ ok: false, error: expect.stringContaining("must name its tool") });
});

test("CUSTOM matrix.attachment becomes an ATTACHMENT (malformed ones carry their problem); other CUSTOM events are not shown", () => {
  expect(decodeAll(
    { type: "CUSTOM", name: "matrix.attachment", value: { mimeType: "text/plain", filename: "a.txt", data: "aGk=" } },
    { type: "CUSTOM", name: "matrix.attachment", value: { mimeType: "text/plain", filename: "a.txt", url: "http://127.0.0.1/a" } },
    { type: "CUSTOM", name: "something.else", value: 1 },
  )).toEqual([
    { type: "ATTACHMENT", attachment: { ok: true, attachment: { mimeType: "text/plain", filename: "a.txt", bytes: Buffer.from("hi") } } },
    { type: "ATTACHMENT", attachment: { ok: false, problem: expect.stringMatching(/^data:/) } },
    { type: "UNKNOWN", originalType: "CUSTOM" },
  ]);
});
