// The reference agent's tools: the calculator never runs code; in LLM mode the model is offered current_time and
// calculator, its tool calls stream to a v2 bot as TOOL_CALL_* (reasoning as REASONING_*, never as text), each
// call runs and its result, or its error told in words, goes back to the model; the history keeps each call with
// its result; a v1 bot sees the text only.
import type { WorkEvent } from "../../../src/agent/run-events";
import { builtinTools } from "../../../src/reference-agent/tools/builtin";
import { calculate } from "../../../src/reference-agent/tools/calculator";
import { botLink, cleanup, fakeOpenAI, hello, llmEnv, rawClient, runRequest, startAgent, tempDataDir, waitFor, type Frame } from "./support";

afterEach(cleanup);

test("the calculator does arithmetic and says what is wrong, never evaluating code", () => {
  expect(calculate("(17 + 5) * 3 / 2")).toBe(33);
  expect(calculate("2^3^2")).toBe(512);
  expect(calculate("-2 ** 2")).toBe(-4);
  expect(calculate("-2^2 + (-2)^2")).toBe(0);
  expect(calculate("2^-1 + sqrt(16) + max(1, 7, 3) % 4")).toBe(7.5);
  expect(calculate("round(pi * 100) / 100")).toBe(3.14);
  expect(calculate("1.5e3 + .5")).toBe(1500.5);
  expect(() => calculate("1/0")).toThrow("division by zero");
  expect(() => calculate("process.exit(1)")).toThrow('unknown name "process"');
  expect(() => calculate("(1 + 2")).toThrow("missing )");
  expect(() => calculate("2 +")).toThrow("the expression ends too early");
  expect(() => calculate("(".repeat(200) + "1" + ")".repeat(200))).toThrow("too deeply nested");
  expect(() => calculate("1".repeat(2_000))).toThrow("longer than 1000");
});

test("current_time answers in UTC or the asked time zone, and an unknown zone is an error for the model", async () => {
  const [time] = builtinTools(() => new Date("2026-12-07T06:00:00Z"));
  const signal = new AbortController().signal;
  expect(await time?.call({}, signal)).toEqual({ ok: true, content: expect.stringContaining("ISO 8601 UTC: 2026-12-07T06:00:00.000Z") });
  expect(await time?.call({ timezone: "Europe/Berlin" }, signal)).toEqual({ ok: true, content: expect.stringMatching(/07:00:00.*Europe\/Berlin/) });
  expect(await time?.call({ timezone: "Mars/Olympus" }, signal)).toEqual({ ok: false, error: expect.stringContaining("unknown time zone") });
});

const SCRIPT = [
  { kind: "stream" as const, chunks: [], reasoning: ["The user wants ", "two sums."],
    toolCalls: [{ id: "call_a", name: "calculator", arguments: '{"expression":"(17+5)*3"}' },
      { id: "call_b", name: "calculator", arguments: '{"expression":"1/0"}' }] },
  { kind: "stream" as const, chunks: ["It is 66; ", "1/0 has no value."] },
];

test("a v2 bot sees the reasoning and each tool call with its result; the model gets the results and errors, then answers", async () => {
  const fake = await fakeOpenAI();
  fake.next(...SCRIPT);
  const agent = await startAgent(llmEnv(fake, tempDataDir()));
  const { link } = await botLink(agent.url);
  const work: WorkEvent[] = [];
  const texts: string[] = [];
  expect(await link.run(runRequest("r1", "what is (17+5)*3, and 1/0?"), {
    onWork: (e) => void work.push(e),
    onTextMessage: (_id, t) => void texts.push(t),
  })).toEqual({ ok: true });
  expect(texts).toEqual(["It is 66; 1/0 has no value."]);
  expect(work.filter((e) => e.kind === "reasoning").map((e) => (e as { delta: string }).delta).join("")).toBe("The user wants two sums.");
  expect(work.filter((e) => e.kind !== "reasoning")).toEqual([
    { kind: "tool_start", toolCallId: "call_a", name: "calculator" },
    { kind: "tool_args", toolCallId: "call_a", delta: '{"expression"' },
    { kind: "tool_args", toolCallId: "call_a", delta: ':"(17+5)*3"}' },
    { kind: "tool_start", toolCallId: "call_b", name: "calculator" },
    { kind: "tool_args", toolCallId: "call_b", delta: '{"expressi' },
    { kind: "tool_args", toolCallId: "call_b", delta: 'on":"1/0"}' },
    { kind: "tool_end", toolCallId: "call_a" },
    { kind: "tool_end", toolCallId: "call_b" },
    { kind: "tool_result", toolCallId: "call_a", content: "66" },
    { kind: "tool_result", toolCallId: "call_b", content: "", error: "division by zero" },
  ]);
  const [first, second] = fake.requests;
  expect(first?.body.tools?.map((t) => t.function.name)).toEqual(["current_time", "calculator"]);
  expect(first?.body.tool_choice).toBe("auto");
  expect(second?.body.messages?.slice(-3)).toEqual([
    { role: "assistant", content: null, tool_calls: [
      { id: "call_a", type: "function", function: { name: "calculator", arguments: '{"expression":"(17+5)*3"}' } },
      { id: "call_b", type: "function", function: { name: "calculator", arguments: '{"expression":"1/0"}' } }] },
    { role: "tool", tool_call_id: "call_a", content: "66" },
    { role: "tool", tool_call_id: "call_b", content: "Error: division by zero" },
  ]);
  // The next run's history keeps each call with its result, and the answer; never the reasoning.
  expect(await link.run(runRequest("r2", "thanks"), { onTextMessage: () => undefined })).toEqual({ ok: true });
  const third = fake.requests[2]?.body.messages ?? [];
  expect(third.map((m) => m.role)).toEqual(["user", "assistant", "tool", "tool", "assistant", "user"]);
  expect(JSON.stringify(third)).not.toContain("two sums");
});

test("the last round must answer in text: after LLM_MAX_TOOL_ROUNDS the model is asked with tool_choice none", async () => {
  const fake = await fakeOpenAI();
  const call = { kind: "stream" as const, chunks: [], toolCalls: [{ id: "c", name: "current_time", arguments: "{}" }] };
  fake.next(call, call, { kind: "stream", chunks: ["Enough."] });
  const agent = await startAgent(llmEnv(fake, tempDataDir(), { LLM_MAX_TOOL_ROUNDS: "2" }));
  const { link } = await botLink(agent.url);
  const texts: string[] = [];
  expect(await link.run(runRequest("r1"), { onTextMessage: (_id, t) => void texts.push(t) })).toEqual({ ok: true });
  expect(fake.requests.map((r) => r.body.tool_choice)).toEqual(["auto", "auto", "none"]);
  expect(texts).toEqual(["Enough."]);
});

test("a v1 bot gets the answer's text only: no tool or reasoning events", async () => {
  const fake = await fakeOpenAI();
  fake.next(...SCRIPT);
  const agent = await startAgent(llmEnv(fake, tempDataDir()));
  const c = await rawClient(agent.url);
  c.send(hello());
  await waitFor(() => c.frames.length === 1, "ready");
  c.send({ op: "run", ...runRequest("r1", "sums") });
  await waitFor(() => c.events().some((f) => (f.event as Frame).type === "RUN_FINISHED"), "finished");
  expect(c.events().map((f) => (f.event as Frame).type)).toEqual(["RUN_STARTED", "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END", "RUN_FINISHED"]);
});
