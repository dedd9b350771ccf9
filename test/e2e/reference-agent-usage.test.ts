// The reference agent reports the tokens its model used, end to end: the bot (homeserver double) runs the reference
// agent in-process against the scripted OpenAI-compatible LLM double, which answers each request's
// `stream_options.include_usage` with a last `usage` chunk; the agent adds up a run's requests (a tool round, then the
// answer) into RUN_FINISHED.usage[], or RUN_ERROR.usage[] when a later request failed, and /usage counts them.
import { foldEdits } from "../support/bot-messages";
import { startFakeOpenAI, type FakeOpenAI } from "../support/fake-openai";
import { Scenario } from "../support/scenario";
import { scaled } from "../support/wait";
import { botEvents, LIVE_TEST_ENV } from "./live/support";

jest.setTimeout(scaled(90_000));

describe("the reference agent reports usage", () => {
  let s: Scenario | undefined;
  let fake: FakeOpenAI | undefined;
  afterEach(async () => {
    await s?.stop();
    await fake?.close();
    s = undefined;
  });

  const day = (): string => new Date().toISOString().slice(0, 10);

  async function ask(w: Scenario, roomId: string, text: string, ends: string): Promise<string> {
    await w.alice.sendText(roomId, text);
    const found = (): string | undefined => foldEdits(botEvents(w.hs, roomId, w.botUserId).filter((e) => e.type === "m.room.message"))
      .map((m) => (m.live ? "" : String(m.content["body"]))).find((b) => b.includes(ends));
    await w.hs.waitFor(() => found() !== undefined, { what: `the bot's answer with ${JSON.stringify(ends)}`, timeoutMs: 60_000,
      describe: () => JSON.stringify(botEvents(w.hs, roomId, w.botUserId).map((e) => e.content["body"])) });
    await w.settled(); // usage is counted at the run's end
    return found() ?? "";
  }

  async function start(): Promise<{ w: Scenario; roomId: string; llm: FakeOpenAI }> {
    const llm = fake = await startFakeOpenAI();
    s = await Scenario.start({ mode: "client", env: { ...LIVE_TEST_ENV, LLM_BASE_URL: llm.baseUrl, LLM_MODEL: "fake-model" } });
    return { w: s, roomId: await s.openDm(), llm };
  }

  it("adds up a tool round and the answer into RUN_FINISHED.usage[]: /usage counts the reference agent's turn", async () => {
    const { w, roomId, llm } = await start();
    llm.next(
      { kind: "stream", chunks: [], toolCalls: [{ id: "call_1", name: "calculator", arguments: '{"expression":"6*7"}' }],
        usage: { prompt_tokens: 30, completion_tokens: 5, total_tokens: 35 } },
      { kind: "stream", chunks: ["It is ", "42."],
        usage: { prompt_tokens: 40, completion_tokens: 10, total_tokens: 50, completion_tokens_details: { reasoning_tokens: 3 } } },
    );
    await ask(w, roomId, "what is 6 times 7?", "It is 42.");
    expect(llm.requests.map((r) => r.body["stream_options"])).toEqual([{ include_usage: true }, { include_usage: true }]);
    const shown = await ask(w, roomId, "/usage", "tokens");
    expect(shown.split("\n")[0]).toBe(`This room today (${day()}, UTC): 85 tokens (70 in, 15 out) in 1 run.`);
  });

  it("reports what the requests before a failure used on RUN_ERROR.usage[]", async () => {
    const { w, roomId, llm } = await start();
    llm.next(
      { kind: "stream", chunks: [], toolCalls: [{ id: "call_1", name: "calculator", arguments: '{"expression":"1+1"}' }],
        usage: { prompt_tokens: 20, completion_tokens: 4, total_tokens: 24 } },
      { kind: "status", status: 500 },
    );
    await ask(w, roomId, "what is 1 plus 1?", "⚠️");
    const shown = await ask(w, roomId, "/usage", "tokens");
    expect(shown.split("\n")[0]).toBe(`This room today (${day()}, UTC): 24 tokens (20 in, 4 out) in 1 run.`);
  });
});
