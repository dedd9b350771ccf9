// Protocol v2 over the agent link: negotiation, RunAgentInput, AG-UI events (chunks, snapshots, outcomes), and
// what a bad v2 event does. The reference agent speaks v2 to a bot that offers it and v1 to one that does not.
import type { RunObserver } from "../../../src/agent/link";
import { echoReply } from "../../../src/reference-agent/server";
import { startScriptedAgent, type ScriptedConn } from "../../support/scripted-agent";
import { capturingLogger, hello, linkOptions, newLink, rawClient, referenceAgent, runRequest, tearDown, waitFor } from "./support";

afterEach(tearDown);

function recorder(): RunObserver & { texts: string[]; progress: string[] } {
  const r = {
    texts: [] as string[],
    progress: [] as string[],
    onTextProgress: (_id: string, t: string) => void r.progress.push(t),
    onTextMessage: (_id: string, t: string) => void r.texts.push(t),
  };
  return r;
}

/** A v2 scripted agent that answers every run with `script(conn, runId, threadId)`. */
async function v2Agent(script: (c: ScriptedConn, runId: string, threadId: string) => void) {
  return startScriptedAgent({
    protocol: 2,
    onFrame: (c, f) => {
      if (f.op === "run") script(c, f.runId as string, f.threadId as string);
    },
  });
}

test("a v2 agent gets a RunAgentInput: the sender's name, metadata.sender and the context as entries", async () => {
  const agent = await v2Agent((c, runId) => c.answer(runId, "ok"));
  const link = newLink(linkOptions(agent.url));
  await link.start();
  const req = runRequest("$r1", "hello");
  req.input.context.inReplyTo = "quoted";
  expect(await link.run(req, recorder())).toEqual({ ok: true });
  expect(link.protocol()).toBe(2);
  expect(link.capabilities()).toEqual({ transport: { streaming: true } });
  expect(agent.runs()[0]).toEqual({
    op: "run", threadId: "t1", runId: "$r1",
    input: {
      threadId: "t1", runId: "$r1", tools: [],
      messages: [{ id: "$$r1", role: "user", content: "hello", name: "Alice", metadata: { sender: "@alice:example.org" } }],
      context: [
        { description: "roomId", value: "!room:example.org" },
        { description: "isDirect", value: "true" },
        { description: "inReplyTo", value: "quoted" },
      ],
    },
  });
});

test("an agent whose ready names no protocol is v1 and keeps getting today's input", async () => {
  const agent = await startScriptedAgent({ onFrame: (c, f) => f.op === "run" && c.answer(f.runId as string, "ok") });
  const link = newLink(linkOptions(agent.url));
  await link.start();
  expect(await link.run(runRequest("r1", "hello"), recorder())).toEqual({ ok: true });
  expect(link.protocol()).toBe(1);
  expect(link.capabilities()).toBeUndefined();
  expect(agent.runs()[0]?.input).toEqual(runRequest("r1", "hello").input);
});

test("chunked text streams (progress) and arrives as one message per messageId", async () => {
  const agent = await v2Agent((c, runId, threadId) => {
    c.event(runId, { type: "RUN_STARTED", threadId, runId });
    c.event(runId, { type: "TEXT_MESSAGE_CHUNK", messageId: "a", delta: "Hello " });
    c.event(runId, { type: "TEXT_MESSAGE_CHUNK", delta: "world" });
    c.event(runId, { type: "TOOL_CALL_START", toolCallId: "c", toolCallName: "search" }); // closes "a"; not shown
    c.event(runId, { type: "TEXT_MESSAGE_CHUNK", messageId: "b", delta: "Second" });
    c.event(runId, { type: "RUN_FINISHED", threadId, runId });
  });
  const link = newLink(linkOptions(agent.url));
  await link.start();
  const obs = recorder();
  expect(await link.run(runRequest("r1"), obs)).toEqual({ ok: true });
  expect(obs.texts).toEqual(["Hello world", "Second"]);
  expect(obs.progress).toEqual(["Hello ", "Hello world", "Second"]);
});

test("assistant text that arrives only in MESSAGES_SNAPSHOT is rendered; streamed messages are not shown twice", async () => {
  const agent = await v2Agent((c, runId, threadId) => {
    c.event(runId, { type: "RUN_STARTED", threadId, runId });
    c.event(runId, { type: "TEXT_MESSAGE_START", messageId: "s" });
    c.event(runId, { type: "TEXT_MESSAGE_CONTENT", messageId: "s", delta: "streamed" });
    c.event(runId, { type: "TEXT_MESSAGE_END", messageId: "s" });
    const base = [{ id: "u", role: "user", content: "hi" }, { id: "s", role: "assistant", content: "streamed" }];
    c.event(runId, { type: "MESSAGES_SNAPSHOT", messages: [...base, { id: "x", role: "assistant", content: "From the" }] });
    c.event(runId, { type: "MESSAGES_SNAPSHOT", messages: [...base, { id: "x", role: "assistant", content: "From the snapshot" }] });
    c.event(runId, { type: "RUN_FINISHED", threadId, runId });
  });
  const link = newLink(linkOptions(agent.url));
  await link.start();
  const obs = recorder();
  expect(await link.run(runRequest("r1"), obs)).toEqual({ ok: true });
  expect(obs.texts).toEqual(["streamed", "From the snapshot"]);
  expect(obs.progress).toEqual(["streamed", "From the", "From the snapshot"]);
});

test("RUN_FINISHED with outcome cancelled: the text so far is delivered, then the run is shown as stopped", async () => {
  const agent = await v2Agent((c, runId, threadId) => {
    c.event(runId, { type: "RUN_STARTED", threadId, runId });
    c.event(runId, { type: "TEXT_MESSAGE_START", messageId: "a" });
    c.event(runId, { type: "TEXT_MESSAGE_CONTENT", messageId: "a", delta: "Half an ans" });
    c.event(runId, { type: "RUN_FINISHED", threadId, runId, outcome: { type: "cancelled" } });
  });
  const link = newLink(linkOptions(agent.url));
  await link.start();
  const obs = recorder();
  expect(await link.run(runRequest("r1"), obs)).toEqual({
    ok: false, failure: { kind: "agent_error", code: "cancelled", message: "the agent stopped the run", retryable: false },
  });
  expect(obs.texts).toEqual(["Half an ans"]);
});

test.each([
  ["an invalid AG-UI event", { type: "TEXT_MESSAGE_CONTENT", messageId: "a" }],
  ["a RUN_FINISHED naming another run", { type: "RUN_FINISHED", threadId: "t1", runId: "someone-else" }],
  ["a chunk stream without an id", { type: "TEXT_MESSAGE_CHUNK", delta: "orphan" }],
])("%s fails that run with bad_frame (the agent is told to cancel); the link stays up", async (_what, bad) => {
  const agent = await v2Agent((c, runId, threadId) => {
    c.event(runId, { type: "RUN_STARTED", threadId, runId });
    c.event(runId, bad);
  });
  const link = newLink(linkOptions(agent.url));
  await link.start();
  const result = await link.run(runRequest("r1"), recorder());
  expect(result).toMatchObject({ ok: false, failure: { kind: "bad_frame" } });
  await waitFor(() => agent.latest().frames.some((f) => f.op === "cancel" && f.runId === "r1"), "cancel sent");
  expect(link.state()).toBe("up");
  expect(link.stats().framesRejected).toBe(1);
});

test("event types AG-UI 1.0 does not define are ignored and logged once per type", async () => {
  const { logger, lines } = capturingLogger();
  const agent = await v2Agent((c, runId, threadId) => {
    c.event(runId, { type: "RUN_STARTED", threadId, runId });
    c.event(runId, { type: "HOLOGRAM", beam: 1 });
    c.event(runId, { type: "HOLOGRAM", beam: 2 });
    c.event(runId, { type: "TEXT_MESSAGE_CHUNK", messageId: "a", delta: "fine" });
    c.event(runId, { type: "RUN_FINISHED", threadId, runId });
  });
  const link = newLink(linkOptions(agent.url, { logger }));
  await link.start();
  const obs = recorder();
  expect(await link.run(runRequest("r1"), obs)).toEqual({ ok: true });
  expect(obs.texts).toEqual(["fine"]);
  expect(lines.filter((l) => l.type === "HOLOGRAM")).toHaveLength(1);
});

test("the reference agent speaks v2 to a bot that offers it, with its capabilities", async () => {
  const agent = await referenceAgent();
  const link = newLink(linkOptions(agent.url));
  await link.start();
  const obs = recorder();
  expect(await link.run(runRequest("r1", "over v2"), obs)).toEqual({ ok: true });
  expect(obs.texts).toEqual([echoReply("over v2")]);
  expect(link.protocol()).toBe(2);
  expect(link.capabilities()).toMatchObject({ multimodal: { input: { image: true, audio: true, video: true, pdf: true, file: true } }, humanInTheLoop: { interrupts: true } });
});

test("the reference agent keeps speaking v1 to a bot whose hello offers only v1", async () => {
  const agent = await referenceAgent();
  const client = await rawClient(agent.url);
  client.send(hello());
  await waitFor(() => client.frames.some((f) => f.op === "ready"), "ready");
  expect(client.frames[0]).not.toHaveProperty("protocol");
  const req = runRequest("r1", "over v1");
  client.send({ op: "run", ...req });
  await waitFor(() => client.events().some((f) => (f.event as { type: string }).type === "RUN_FINISHED"), "the run finishes");
  expect(client.events().map((f) => f.event)).toEqual([
    { type: "RUN_STARTED" },
    { type: "TEXT_MESSAGE_START", messageId: expect.any(String) },
    { type: "TEXT_MESSAGE_CONTENT", messageId: expect.any(String), delta: expect.any(String) },
    { type: "TEXT_MESSAGE_CONTENT", messageId: expect.any(String), delta: expect.any(String) },
    { type: "TEXT_MESSAGE_END", messageId: expect.any(String) },
    { type: "RUN_FINISHED" },
  ]);
});
