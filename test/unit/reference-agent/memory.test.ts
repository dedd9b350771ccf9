// Memory per thread key: kept across agent restarts, a new generation starts empty, trimmed to the
// LLM_HISTORY_MAX_CHARS budget oldest first while the system prompt always stays.
import { encodeThreadKey } from "../../../src/rooms/thread-key";
import { buildPrompt, trimHistory, withoutReplaced, type ChatTurn } from "../../../src/reference-agent/memory";
import { botLink, cleanup, fakeOpenAI, llmEnv, runRequest, startAgent, stopAgent, tempDataDir } from "./support";

afterEach(cleanup);

const quietly = { onTextMessage: () => undefined };

test("memory survives an agent restart on the same DATA_DIR: the second request carries the first exchange", async () => {
  const fake = await fakeOpenAI();
  const dataDir = tempDataDir();
  fake.next({ kind: "stream", chunks: ["Nice to meet ", "you, Alice."] });
  const first = await startAgent(llmEnv(fake, dataDir, { LLM_SYSTEM_PROMPT: "You are kind." }));
  const a = await botLink(first.url);
  expect(await a.link.run(runRequest("r1", "I am Alice"), quietly)).toEqual({ ok: true });
  await a.link.stop();
  await stopAgent(first);

  const second = await startAgent(llmEnv(fake, dataDir, { LLM_SYSTEM_PROMPT: "You are kind." }));
  const b = await botLink(second.url);
  expect(await b.link.run(runRequest("r2", "who am I?"), quietly)).toEqual({ ok: true });
  expect(fake.requests[1]?.body.messages).toEqual([
    { role: "system", content: "You are kind." },
    { role: "user", content: "Alice: I am Alice" },
    { role: "assistant", content: "Nice to meet you, Alice." },
    { role: "user", content: "Alice: who am I?" },
  ]);
});

test("threads do not share memory, and a new thread generation (after /reset) starts empty", async () => {
  const fake = await fakeOpenAI();
  const agent = await startAgent(llmEnv(fake, tempDataDir()));
  const { link } = await botLink(agent.url);
  const gen0 = encodeThreadKey({ roomId: "!room:example.org", generation: 0 });
  const gen1 = encodeThreadKey({ roomId: "!room:example.org", generation: 1 });
  const other = encodeThreadKey({ roomId: "!other:example.org", generation: 0 });
  await link.run(runRequest("r1", "remember 42", gen0), quietly);
  await link.run(runRequest("r2", "what number?", gen0), quietly);
  await link.run(runRequest("r3", "what number?", other), quietly);
  await link.run(runRequest("r4", "what number?", gen1), quietly);
  expect(fake.requests[1]?.body.messages).toHaveLength(3);
  expect(fake.requests[1]?.body.messages?.[0]).toEqual({ role: "user", content: "Alice: remember 42" });
  expect(fake.requests[2]?.body.messages).toEqual([{ role: "user", content: "Alice: what number?" }]);
  expect(fake.requests[3]?.body.messages).toEqual([{ role: "user", content: "Alice: what number?" }]);
});

test("through the agent: a small budget keeps the system prompt and the newest turns, drops the oldest", async () => {
  const fake = await fakeOpenAI();
  fake.setDefault((_req, n) => ({ kind: "stream", chunks: [`answer-${n}`] })); // 8 characters
  const system = "S".repeat(20);
  const agent = await startAgent(llmEnv(fake, tempDataDir(), { LLM_SYSTEM_PROMPT: system, LLM_HISTORY_MAX_CHARS: "80" }));
  const { link } = await botLink(agent.url);
  for (let i = 1; i <= 4; i++) await link.run(runRequest(`r${i}`, `msg ${i}`), quietly); // "Alice: msg i" = 12 chars
  const sent = fake.requests[3]?.body.messages ?? [];
  expect(sent[0]).toEqual({ role: "system", content: system });
  expect(sent.at(-1)).toEqual({ role: "user", content: "Alice: msg 4" });
  // 80 - 20 (system) - 12 (new) = 48 characters of history: the two newest exchanges (2 × 20), not the first.
  expect(sent.slice(1, -1)).toEqual([
    { role: "user", content: "Alice: msg 2" },
    { role: "assistant", content: "answer-2" },
    { role: "user", content: "Alice: msg 3" },
    { role: "assistant", content: "answer-3" },
  ]);
  expect(sent.reduce((n, m) => n + String(m.content).length, 0)).toBeLessThanOrEqual(80);
});

test("a question edited after its answer replaces the old one and its answer in the history (metadata.replaces)", async () => {
  const fake = await fakeOpenAI();
  const agent = await startAgent(llmEnv(fake, tempDataDir()));
  const { link } = await botLink(agent.url);
  fake.next({ kind: "stream", chunks: ["It is Paris."] });
  await link.run(runRequest("r0", "capital of France?"), quietly);
  fake.next({ kind: "stream", chunks: ["4"] });
  await link.run(runRequest("r1", "what is 2+2"), quietly);
  fake.next({ kind: "stream", chunks: ["6"] });
  const edited = runRequest("$edit", "what is 3+3");
  edited.input.messages[0] = { ...edited.input.messages[0]!, id: "$edit", replaces: "$r1" };
  await link.run(edited, quietly);
  fake.next({ kind: "stream", chunks: ["Yes."] });
  await link.run(runRequest("r2", "sure?"), quietly);
  const paris = [{ role: "user", content: "Alice: capital of France?" }, { role: "assistant", content: "It is Paris." }];
  expect(fake.requests[2]?.body.messages).toEqual([...paris, { role: "user", content: "Alice: what is 3+3" }]);
  expect(fake.requests[3]?.body.messages).toEqual([
    ...paris, { role: "user", content: "Alice: what is 3+3" }, { role: "assistant", content: "6" }, { role: "user", content: "Alice: sure?" },
  ]);
});

test("a replaced question leaves with its answer; the rest of its batch stays; unknown ids change nothing", () => {
  const user = (id: string, content: string): ChatTurn => ({ role: "user", content, id });
  const answer = (content: string): ChatTurn => ({ role: "assistant", content });
  const history = [user("$a", "a"), answer("A"), user("$b", "b"), user("$c", "c"), answer("BC"), user("$d", "d"), answer("D")];
  expect(withoutReplaced(history, ["$c"])).toEqual([user("$a", "a"), answer("A"), user("$b", "b"), user("$d", "d"), answer("D")]);
  expect(withoutReplaced(history, ["$d"])).toEqual(history.slice(0, 5));
  expect(withoutReplaced(history, ["$unknown"])).toEqual(history);
  // An answer that called tools leaves whole: the calls, their results and the text.
  const withTools: ChatTurn[] = [user("$a", "a"), { role: "assistant", content: "", toolCalls: [{ id: "c", name: "calculator", arguments: "{}" }] },
    { role: "tool", toolCallId: "c", content: "4" }, answer("A"), user("$b", "b"), answer("B")];
  expect(withoutReplaced(withTools, ["$a"])).toEqual([user("$b", "b"), answer("B")]);
});

describe("trimming", () => {
  const turn = (role: "user" | "assistant", content: string): ChatTurn => ({ role, content });
  const history = [turn("user", "u1-xxxxx"), turn("assistant", "a1-xxxxx"), turn("user", "u2-xxxxx"), turn("assistant", "a2-xxxxx")];

  test("drops the oldest first and never starts with an answer whose question was dropped", () => {
    expect(trimHistory(history, 32)).toEqual(history);
    expect(trimHistory(history, 24)).toEqual(history.slice(2)); // a1 would be first: dropped too
    expect(trimHistory(history, 16)).toEqual(history.slice(2));
    expect(trimHistory(history, 8)).toEqual([]);
    expect(trimHistory(history, 0)).toEqual([]);
  });

  test("a tool call is kept or dropped with its results, never one without the other", () => {
    const called: ChatTurn = { role: "assistant", content: "", toolCalls: [{ id: "c1", name: "calculator", arguments: '{"expression":"2+2"}' },
      { id: "c2", name: "current_time", arguments: "{}" }] };
    const withTools: ChatTurn[] = [
      turn("user", "u1-xxxxx"), called,
      { role: "tool", toolCallId: "c1", content: "4" }, { role: "tool", toolCallId: "c2", content: "2026-12-07T06:00:00Z" },
      turn("assistant", "a1-xxxxx"), turn("user", "u2-xxxxx"), turn("assistant", "a2-xxxxx"),
    ];
    expect(trimHistory(withTools, 1000)).toEqual(withTools);
    // The budget fits the last tool result and what follows, but not its call: both go, and the answer after them.
    expect(trimHistory(withTools, 50)).toEqual(withTools.slice(5));
    // A call whose results are not all there (or a result without its call) is never sent.
    expect(trimHistory([turn("user", "q"), called, { role: "tool", toolCallId: "c1", content: "4" }, turn("assistant", "a")], 1000))
      .toEqual([turn("user", "q"), turn("assistant", "a")]);
    expect(trimHistory([{ role: "tool", toolCallId: "c9", content: "x" }, turn("user", "q")], 1000)).toEqual([turn("user", "q")]);
  });

  test("the system prompt and the new turns are always sent, even over budget", () => {
    const prompt = buildPrompt("system prompt", history, [turn("user", "new")], 5);
    expect(prompt).toEqual([{ role: "system", content: "system prompt" }, { role: "user", content: "new" }]);
    expect(buildPrompt(undefined, history, [turn("user", "new")], 1000)).toEqual([...history, { role: "user", content: "new" }]);
  });
});
