// The LLM brain reports the tokens its model used: each request asks for usage (stream_options.include_usage); a
// run's requests are added up per model into RUN_FINISHED.usage[] (AG-UI TokenUsage), or RUN_ERROR.usage[] when a
// later request failed; a server that reports none leaves usage out.
import type { RunResult } from "../../../src/agent/link-types";
import { botLink, cleanup, fakeOpenAI, llmEnv, runRequest, startAgent, tempDataDir } from "./support";

afterEach(cleanup);

/** A run through the bot's own link (protocol v2) to the reference agent in LLM mode: what the bot gets at its end. */
async function runResult(setUp: (fake: Awaited<ReturnType<typeof fakeOpenAI>>) => void): Promise<RunResult> {
  const fake = await fakeOpenAI();
  setUp(fake);
  const agent = await startAgent(llmEnv(fake, tempDataDir()));
  const { link } = await botLink(agent.url);
  return link.run(runRequest("r1", "what is 6 times 7?"), { onTextMessage: () => undefined });
}

test("a tool round and the answer are added up into one entry on RUN_FINISHED", async () => {
  const result = await runResult((fake) => fake.next(
    { kind: "stream", chunks: [], toolCalls: [{ id: "c1", name: "calculator", arguments: '{"expression":"6*7"}' }],
      usage: { prompt_tokens: 30, completion_tokens: 5, total_tokens: 35, prompt_tokens_details: { cached_tokens: 8 } } },
    { kind: "stream", chunks: ["42"], usage: { prompt_tokens: 40, completion_tokens: 10, total_tokens: 50, completion_tokens_details: { reasoning_tokens: 3 } } },
  ));
  expect(result).toEqual({ ok: true, usage: [{ model: "fake-model", inputTokens: 70, outputTokens: 15, totalTokens: 85,
    reasoningTokens: 3, cachedInputTokens: 8 }] });
});

test("RUN_ERROR carries what the requests before the failure used", async () => {
  const result = await runResult((fake) => fake.next(
    { kind: "stream", chunks: [], toolCalls: [{ id: "c1", name: "calculator", arguments: '{"expression":"1+1"}' }],
      usage: { prompt_tokens: 20, completion_tokens: 4, total_tokens: 24 } },
    { kind: "status", status: 500 },
  ));
  expect(result).toMatchObject({ ok: false, usage: [{ model: "fake-model", inputTokens: 20, outputTokens: 4, totalTokens: 24 }] });
});

test("a server that reports no usage: none on RUN_FINISHED", async () => {
  const result = await runResult((fake) => fake.next({ kind: "stream", chunks: ["hi"] }));
  expect(result).toEqual({ ok: true });
});
