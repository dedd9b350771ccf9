// Every provider failure reaches the bot as RUN_ERROR with its code and a message fit for users: no provider
// text, no secrets. Each case goes through a real bot link (AgentLink) to the configured agent.
import type { FakeBehaviour } from "../../support/fake-openai";
import { USER_MESSAGES } from "../../../src/reference-agent/llm-errors";
import { botLink, cleanup, fakeOpenAI, freePort, llmEnv, runRequest, startAgent, tempDataDir } from "./support";

afterEach(cleanup);

async function failureFor(behaviour: FakeBehaviour, env: Record<string, string> = {}) {
  const fake = await fakeOpenAI();
  fake.next(behaviour);
  const agent = await startAgent(llmEnv(fake, tempDataDir(), env));
  const { link } = await botLink(agent.url);
  const texts: string[] = [];
  const result = await link.run(runRequest("r1", "hello"), { onTextMessage: (_id, t) => void texts.push(t) });
  expect(fake.requests).toHaveLength(1);
  expect(texts).toEqual([]);
  if (result.ok || result.failure.kind !== "agent_error") throw new Error(`expected an agent error, got ${JSON.stringify(result)}`);
  return result.failure;
}

function expectFitForUsers(message: string): void {
  expect(message).not.toMatch(/sk-|fake error|maximum context length is|at .*\.ts:|Error:|status|401|429|500/);
}

test.each([
  ["401", "auth", { kind: "status", status: 401 }, false],
  ["403", "auth", { kind: "status", status: 403 }, false],
  ["429", "rate_limited", { kind: "status", status: 429 }, true],
  ["500", "upstream_unavailable", { kind: "status", status: 500 }, true],
  ["503", "upstream_unavailable", { kind: "status", status: 503 }, true],
  ["context-length 400", "context_too_long", { kind: "context_length" }, false],
  ["404 (anything else)", "internal", { kind: "status", status: 404 }, false],
  ["connection dropped mid-stream", "upstream_unavailable", { kind: "drop", chunks: ["half an"] }, true],
] as Array<[string, string, FakeBehaviour, boolean]>)("%s → %s", async (_name, code, behaviour, retryable) => {
  const failure = await failureFor(behaviour);
  expect(failure).toMatchObject({ code, retryable });
  expectFitForUsers(failure.message);
  if (code !== "rate_limited") expect(Object.values(USER_MESSAGES)).toContain(failure.message);
});

test("a context-length 400 recognised by its message alone (no code) → context_too_long", async () => {
  const failure = await failureFor({
    kind: "status",
    status: 400,
    body: { error: { message: "Requested tokens exceed the model's maximum context length of 4096", type: "invalid_request_error" } },
  });
  expect(failure).toMatchObject({ code: "context_too_long", message: USER_MESSAGES.context_too_long });
});

test("429 with Retry-After tells the user how long to wait", async () => {
  const failure = await failureFor({ kind: "status", status: 429, headers: { "retry-after": "20" } });
  expect(failure).toMatchObject({ code: "rate_limited", retryable: true });
  expect(failure.message).toMatch(/try again in about 20 seconds/);
});

test("a provider that hangs before answering is cut at LLM_TIMEOUT_MS → timeout, and the request is closed", async () => {
  const fake = await fakeOpenAI();
  fake.next({ kind: "hang" });
  const agent = await startAgent(llmEnv(fake, tempDataDir(), { LLM_TIMEOUT_MS: "150" }));
  const { link } = await botLink(agent.url);
  const result = await link.run(runRequest("r1"), { onTextMessage: () => undefined });
  expect(result).toMatchObject({ ok: false, failure: { kind: "agent_error", code: "timeout", message: USER_MESSAGES.timeout } });
  await fake.requests[0]?.done;
  expect(fake.requests[0]?.closedEarly).toBe(true);
});

test("a provider that stops mid-stream is cut at LLM_TIMEOUT_MS → timeout", async () => {
  const fake = await fakeOpenAI();
  fake.next({ kind: "hang", chunks: ["Let me think"] });
  const agent = await startAgent(llmEnv(fake, tempDataDir(), { LLM_TIMEOUT_MS: "150" }));
  const { link } = await botLink(agent.url);
  const result = await link.run(runRequest("r1"), { onTextMessage: () => undefined });
  expect(result).toMatchObject({ ok: false, failure: { kind: "agent_error", code: "timeout" } });
});

test("connection refused → upstream_unavailable", async () => {
  const port = await freePort();
  const agent = await startAgent({
    DATA_DIR: tempDataDir(), LLM_BASE_URL: `http://127.0.0.1:${port}/v1`, LLM_MODEL: "m",
  });
  const { link } = await botLink(agent.url);
  const result = await link.run(runRequest("r1"), { onTextMessage: () => undefined });
  expect(result).toMatchObject({
    ok: false,
    failure: { kind: "agent_error", code: "upstream_unavailable", retryable: true, message: USER_MESSAGES.upstream_unavailable },
  });
});

test("after a failure the thread is free and its memory unchanged: the next run succeeds without the failed turn", async () => {
  const fake = await fakeOpenAI();
  fake.next({ kind: "status", status: 500 });
  const agent = await startAgent(llmEnv(fake, tempDataDir()));
  const { link } = await botLink(agent.url);
  expect(await link.run(runRequest("r1", "lost"), { onTextMessage: () => undefined })).toMatchObject({ ok: false });
  const texts: string[] = [];
  expect(await link.run(runRequest("r2", "again"), { onTextMessage: (_i, t) => void texts.push(t) })).toEqual({ ok: true });
  expect(texts).toEqual(["answer 2"]);
  expect(fake.requests[1]?.body.messages).toEqual([{ role: "user", content: "Alice: again" }]);
});
