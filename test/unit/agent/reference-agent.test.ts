// The reference agent speaks protocol v1 completely: auth, hello/ready, seq, replay, bad frames,
// thread_busy, cancel.
import { echoReply, MemoryAgentJournal, type ReferenceAgent } from "../../../src/reference-agent/server";
import { type Frame, hello, linkOptions, newLink, openSocket, rawClient, referenceAgent, runRequest, tearDown, waitFor } from "./support";

afterEach(tearDown);

async function agentWith(opts: { token?: string; delayMs?: number; journal?: MemoryAgentJournal } = {}): Promise<ReferenceAgent> {
  return referenceAgent({
    heartbeatMs: 5_000,
    mode: { kind: "echo", delayMs: opts.delayMs ?? 0 },
    ...(opts.token !== undefined ? { token: opts.token } : {}),
    ...(opts.journal ? { journal: opts.journal } : {}),
  });
}

test("a bad token is refused with HTTP 401 on upgrade", async () => {
  const agent = await agentWith({ token: "t0ken" });
  const ws = openSocket(agent.url, { Authorization: "Bearer nope" });
  const status = await new Promise<number>((resolve) => {
    ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
    ws.on("error", () => undefined);
  });
  expect(status).toBe(401);
  expect(agent.connections()).toBe(0);
});

test("hello → ready with a new session; event seqs increase by one; the echo is the last message", async () => {
  const agent = await agentWith();
  const c = await rawClient(agent.url);
  c.send(hello());
  await waitFor(() => c.frames.length === 1, "ready");
  expect(c.frames[0]).toMatchObject({ op: "ready", resumed: false, heartbeatMs: 5_000 });
  const run = runRequest("r1", "last one");
  run.input.messages.unshift({ id: "$0", role: "user", content: "first one", sender: "@a:x" });
  c.send({ op: "run", ...run });
  await waitFor(() => c.events().some((f) => (f.event as Frame).type === "RUN_FINISHED"), "finished");
  const evs = c.events();
  expect(evs.map((f) => f.seq)).toEqual(evs.map((_, i) => i + 1));
  expect(evs.map((f) => (f.event as Frame).type)).toEqual([
    "RUN_STARTED",
    "TEXT_MESSAGE_START",
    "TEXT_MESSAGE_CONTENT",
    "TEXT_MESSAGE_CONTENT",
    "TEXT_MESSAGE_END",
    "RUN_FINISHED",
  ]);
  const text = evs.map((f) => (f.event as Frame).delta ?? "").join("");
  expect(text).toBe(echoReply("last one"));
  expect(text).toBe("You said: last one");
});

test("bad frames get an error frame with code bad_frame (and the runId when there is one)", async () => {
  const agent = await agentWith();
  const c = await rawClient(agent.url);
  c.send({ op: "run", ...runRequest("early") });
  c.send(hello());
  c.send("{not json");
  c.send({ op: "run", threadId: "t", runId: "r-bad", input: { messages: [] } });
  await waitFor(() => c.frames.filter((f) => f.op === "error").length === 3, "three errors");
  const errors = c.frames.filter((f) => f.op === "error");
  expect(errors.every((e) => e.code === "bad_frame")).toBe(true);
  expect(errors[0]).toMatchObject({ runId: "early" });
  expect(errors[2]).toMatchObject({ runId: "r-bad" });
  expect(agent.connections()).toBe(1);
});

test("another protocol version is refused with close 4002", async () => {
  const agent = await agentWith();
  const c = await rawClient(agent.url);
  const closed = new Promise<number>((resolve) => c.ws.once("close", (code) => resolve(code)));
  c.send({ op: "hello", protocol: "matrix-agent/9", client: "test" });
  expect(await closed).toBe(4002);
});

test("resume: a known session keeps seqs, forgets frames ≤ lastSeq and replays the rest; an unknown one gets all", async () => {
  const journal = new MemoryAgentJournal();
  const agent = await agentWith({ journal });
  const a = await rawClient(agent.url);
  a.send(hello());
  await waitFor(() => a.frames.length === 1, "ready");
  const sessionId = a.frames[0]?.sessionId as string;
  await agent.emitProactive("*", "one"); // seqs 1..6
  await agent.emitProactive("*", "two"); // seqs 7..12
  await waitFor(() => a.events().length === 12, "both runs");
  a.ws.terminate();
  await waitFor(() => agent.connections() === 0, "disconnected");

  const b = await rawClient(agent.url);
  b.send(hello({ sessionId, lastSeq: 6 }));
  await waitFor(() => b.events().length === 6, "replay of the second run");
  expect(b.frames[0]).toMatchObject({ op: "ready", sessionId, resumed: true });
  expect(b.events().map((f) => f.seq)).toEqual([7, 8, 9, 10, 11, 12]);
  expect(journal.size()).toBe(6);
  b.ws.terminate();
  await waitFor(() => agent.connections() === 0, "disconnected");

  const c = await rawClient(agent.url);
  c.send(hello({ sessionId: "s-unknown", lastSeq: 500 }));
  await waitFor(() => c.events().length === 6, "replay for a new session");
  expect(c.frames[0]).toMatchObject({ op: "ready", resumed: false });
  expect(c.frames[0]?.sessionId).not.toBe(sessionId);
  expect(c.events().map((f) => f.seq)).toEqual([1, 2, 3, 4, 5, 6]);
  expect(c.events().every((f) => f.proactive === true && f.threadId === "*")).toBe(true);
  c.send({ op: "ack", seq: 6 });
  await waitFor(() => journal.size() === 0, "acked");
});

test("a second run for a busy thread gets RUN_ERROR thread_busy; other threads are served", async () => {
  const agent = await agentWith({ delayMs: 80 });
  const link = newLink(linkOptions(agent.url));
  await link.start();
  const first = link.run(runRequest("r1", "one", "t1"), { onTextMessage: () => undefined });
  const busy = link.run(runRequest("r2", "two", "t1"), { onTextMessage: () => undefined });
  const other = link.run(runRequest("r3", "three", "t2"), { onTextMessage: () => undefined });
  expect(await busy).toMatchObject({ ok: false, failure: { kind: "agent_error", code: "thread_busy" } });
  expect(await first).toEqual({ ok: true });
  expect(await other).toEqual({ ok: true });
});

test("cancel ends the run with RUN_ERROR cancelled and frees the thread", async () => {
  const agent = await agentWith({ delayMs: 5_000 });
  const link = newLink(linkOptions(agent.url));
  await link.start();
  const texts: string[] = [];
  const run = link.run(runRequest("r1", "slow"), {
    onStarted: () => void link.cancel("r1"),
    onTextMessage: (_id, t) => void texts.push(t),
  });
  expect(await run).toMatchObject({ ok: false, failure: { kind: "agent_error", code: "cancelled" } });
  expect(texts).toEqual([]);
  const again = await link.run(runRequest("r2", "next", "t1"), { onTextMessage: () => undefined }, AbortSignal.timeout(50));
  // The thread is free again: the agent accepted r2 (it is slow, so the caller gives up first).
  expect(again).toMatchObject({ ok: false, failure: { kind: "cancelled" } });
});
