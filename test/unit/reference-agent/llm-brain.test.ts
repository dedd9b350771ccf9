// LLM mode: streamed chunks become ONE TEXT_MESSAGE; the request carries the model, the key, the system
// prompt and every user message with its sender's name; cancel aborts the provider call; many threads run
// at once, one run per thread.
import { botLink, cleanup, fakeOpenAI, hello, llmEnv, rawClient, runRequest, startAgent, tempDataDir, waitFor, type Frame } from "./support";

afterEach(cleanup);

test("streamed chunks are assembled into one TEXT_MESSAGE (start, one delta per chunk, end)", async () => {
  const fake = await fakeOpenAI();
  fake.next({ kind: "stream", chunks: ["We ", "agreed ", "on ", "Tuesday."] });
  const agent = await startAgent(llmEnv(fake, tempDataDir()));
  const c = await rawClient(agent.url);
  c.send(hello());
  await waitFor(() => c.frames.length === 1, "ready");
  c.send({ op: "run", ...runRequest("r1", "when?") });
  await waitFor(() => c.events().some((f) => (f.event as Frame).type === "RUN_FINISHED"), "finished");
  const events = c.events().map((f) => f.event as Frame);
  expect(events.map((e) => e.type)).toEqual([
    "RUN_STARTED",
    "TEXT_MESSAGE_START",
    "TEXT_MESSAGE_CONTENT",
    "TEXT_MESSAGE_CONTENT",
    "TEXT_MESSAGE_CONTENT",
    "TEXT_MESSAGE_CONTENT",
    "TEXT_MESSAGE_END",
    "RUN_FINISHED",
  ]);
  expect(new Set(events.filter((e) => e.messageId !== undefined).map((e) => e.messageId)).size).toBe(1);
  expect(events.map((e) => e.delta ?? "").join("")).toBe("We agreed on Tuesday.");
});

test("through the bot link the answer arrives as one message", async () => {
  const fake = await fakeOpenAI();
  fake.next({ kind: "stream", chunks: ["Hel", "lo ", "there"] });
  const agent = await startAgent(llmEnv(fake, tempDataDir()));
  const { link } = await botLink(agent.url);
  const texts: string[] = [];
  expect(await link.run(runRequest("r1"), { onTextMessage: (_id, t) => void texts.push(t) })).toEqual({ ok: true });
  expect(texts).toEqual(["Hello there"]);
});

test("the request: model, stream, bearer key, system prompt, every user message with its sender's name and the quoted reply", async () => {
  const fake = await fakeOpenAI();
  const agent = await startAgent(llmEnv(fake, tempDataDir(), { LLM_SYSTEM_PROMPT: "Be brief." }));
  const { link } = await botLink(agent.url);
  const req = runRequest("r2", "and you?");
  req.input.messages.unshift({ id: "$1", role: "user", content: "how are you", sender: "@bob:example.org" });
  req.input.context.inReplyTo = "an earlier line";
  expect(await link.run(req, { onTextMessage: () => undefined })).toEqual({ ok: true });
  const sent = fake.requests[0];
  expect(sent?.headers.authorization).toBe("Bearer sk-test-key");
  expect(sent?.body).toMatchObject({ model: "fake-model", stream: true });
  expect(sent?.body.messages).toEqual([
    { role: "system", content: "Be brief." },
    { role: "user", content: "@bob:example.org: how are you" },
    { role: "user", content: 'Alice (replying to "an earlier line"): and you?' },
  ]);
});

test("without LLM_API_KEY a placeholder is sent (keyless local servers ignore it)", async () => {
  const fake = await fakeOpenAI();
  const env = llmEnv(fake, tempDataDir());
  delete env.LLM_API_KEY;
  const agent = await startAgent(env);
  const { link } = await botLink(agent.url);
  expect(await link.run(runRequest("r1"), { onTextMessage: () => undefined })).toEqual({ ok: true });
  expect(fake.requests[0]?.headers.authorization).toBe("Bearer no-key");
});

test("an empty answer is an error, not an empty Matrix message", async () => {
  const fake = await fakeOpenAI();
  fake.next({ kind: "stream", chunks: [] });
  const agent = await startAgent(llmEnv(fake, tempDataDir()));
  const { link } = await botLink(agent.url);
  const texts: string[] = [];
  const result = await link.run(runRequest("r1"), { onTextMessage: (_id, t) => void texts.push(t) });
  expect(result).toMatchObject({ ok: false, failure: { kind: "agent_error", code: "internal" } });
  expect(texts).toEqual([]);
});

test("cancel aborts the provider call: the fake server sees the connection close; the thread is free again", async () => {
  const fake = await fakeOpenAI();
  fake.next({ kind: "hang", chunks: ["thinking"] });
  const agent = await startAgent(llmEnv(fake, tempDataDir()));
  const { link } = await botLink(agent.url);
  const run = link.run(runRequest("r1", "slow"), { onTextMessage: () => undefined });
  await waitFor(() => fake.requests.length === 1, "the provider request");
  link.cancel("r1");
  expect(await run).toMatchObject({ ok: false, failure: { kind: "agent_error", code: "cancelled" } });
  await fake.requests[0]?.done;
  expect(fake.requests[0]?.closedEarly).toBe(true);
  const texts: string[] = [];
  expect(await link.run(runRequest("r2", "next"), { onTextMessage: (_i, t) => void texts.push(t) })).toEqual({ ok: true });
  expect(texts).toEqual(["answer 2"]);
  // The cancelled exchange is not remembered.
  expect(fake.requests[1]?.body.messages).toEqual([{ role: "user", content: "Alice: next" }]);
});

test("the bot going away aborts the provider calls of its runs", async () => {
  const fake = await fakeOpenAI();
  fake.next({ kind: "hang" });
  const agent = await startAgent(llmEnv(fake, tempDataDir()));
  const c = await rawClient(agent.url);
  c.send(hello());
  await waitFor(() => c.frames.length === 1, "ready");
  c.send({ op: "run", ...runRequest("r1") });
  await waitFor(() => fake.requests.length === 1, "the provider request");
  c.ws.terminate();
  await fake.requests[0]?.done;
  expect(fake.requests[0]?.closedEarly).toBe(true);
});

test("many threads at once, one run per thread: a second run on a busy thread gets thread_busy", async () => {
  const fake = await fakeOpenAI();
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  // The model's answers are held until the busy run was refused: the four runs are in flight until then.
  fake.setDefault((req) => ({ kind: "stream", chunks: ["re: ", String(req.body.messages?.at(-1)?.content)], hold: held }));
  const agent = await startAgent(llmEnv(fake, tempDataDir()));
  const { link } = await botLink(agent.url);
  const answers = new Map<string, string>();
  const runs = ["t1", "t2", "t3", "t4"].map((t) =>
    link.run(runRequest(`r-${t}`, `to ${t}`, t), { onTextMessage: (_id, text) => void answers.set(t, text) }),
  );
  await waitFor(() => fake.requests.length === 4, "four provider requests in flight together");
  const busy = await link.run(runRequest("r-t1-again", "more", "t1"), { onTextMessage: () => undefined });
  expect(busy).toMatchObject({ ok: false, failure: { kind: "agent_error", code: "thread_busy" } });
  release();
  expect(await Promise.all(runs)).toEqual([{ ok: true }, { ok: true }, { ok: true }, { ok: true }]);
  expect(Object.fromEntries(answers)).toEqual({
    t1: "re: Alice: to t1", t2: "re: Alice: to t2", t3: "re: Alice: to t3", t4: "re: Alice: to t4",
  });
  expect(fake.requests).toHaveLength(4); // the busy run never reached the provider
});
