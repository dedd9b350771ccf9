// Agent-initiated runs: delivered once, acked only after the handler (and after persisting), replayed
// after a reconnect while unacked, never delivered twice.
import { MemoryAgentJournal, type ReferenceAgent } from "../../../src/reference-agent/server";
import type { AgentInitiatedRun } from "../../../src/agent/link";
import { barrier, expectSteady, linkOptions, MemorySessionStore, newLink, referenceAgent, runRequest, tearDown, waitFor } from "./support";
import { startScriptedAgent } from "../../support/scripted-agent";

afterEach(tearDown);

async function setup(delayMs = 0): Promise<{ agent: ReferenceAgent; journal: MemoryAgentJournal; store: MemorySessionStore }> {
  const journal = new MemoryAgentJournal();
  const agent = await referenceAgent({ journal, mode: { kind: "echo", delayMs } });
  return { agent, journal, store: new MemorySessionStore() };
}

test("delivered once with its text, acked only after the handler resolved and lastSeq was persisted", async () => {
  const { agent, journal, store } = await setup();
  const link = newLink(linkOptions(agent.url, { sessionStore: store }));
  const runs: AgentInitiatedRun[] = [];
  let releaseHandler!: () => void;
  const handlerGate = new Promise<void>((r) => (releaseHandler = r));
  link.onAgentInitiated(async (run) => {
    runs.push(run);
    await handlerGate;
    return "handled";
  });
  await link.start();
  await waitFor(() => store.value !== undefined, "session saved");
  const sessionId = store.value?.sessionId;

  const { runId } = await agent.emitProactive("*", "Daily digest: all quiet");
  await waitFor(() => runs.length === 1, "delivery");
  const frames = journal.size();
  expect(runs[0]).toEqual({
    runId,
    threadId: "*",
    proactive: true,
    messages: ["Daily digest: all quiet"],
    seqs: Array.from({ length: frames }, (_, i) => i + 1),
  });
  // (No barrier run here: its frames would move the cumulative ack past the run's, which this test pins.)
  await expectSteady(() => waitFor(() => runs.length === 1, "delivery"), () => {
    expect(journal.size()).toBe(frames); // handler still busy: nothing acked
    expect(link.stats().acksSent).toBe(0);
  });

  let releaseSave!: () => void;
  store.gate = new Promise<void>((r) => (releaseSave = r));
  releaseHandler();
  await expectSteady(() => waitFor(() => store.held === 1, "lastSeq being persisted"),
    () => expect(journal.size()).toBe(frames)); // handled, but not yet persisted: still no ack
  store.gate = undefined;
  releaseSave();
  await waitFor(() => journal.size() === 0, "the agent forgot the acked frames");
  expect(store.value).toEqual({ sessionId, lastSeq: frames });
  expect(runs).toHaveLength(1);
  expect(link.stats().agentRunsDelivered).toBe(1);
});

test("a handler that throws gets no ack; the run is replayed after a reconnect and then acked", async () => {
  const { agent, journal, store } = await setup();
  const link = newLink(linkOptions(agent.url, { sessionStore: store }));
  const calls: AgentInitiatedRun[] = [];
  link.onAgentInitiated(async (run) => {
    calls.push(run);
    if (calls.length === 1) throw new Error("outbox unavailable");
    return "handled";
  });
  await link.start();
  await agent.emitProactive("t-room", "Reminder: standup", { proactive: false });
  await waitFor(() => calls.length === 1, "first delivery");
  await expectSteady(() => barrier(link), () => expect(journal.size()).toBeGreaterThan(0));
  agent.dropConnections();
  await waitFor(() => calls.length === 2, "redelivery after reconnect");
  expect(calls[1]).toMatchObject({ runId: calls[0]?.runId, threadId: "t-room", proactive: false, messages: ["Reminder: standup"] });
  await waitFor(() => journal.size() === 0, "acked");
});

test("a replay of a run already handled (its ack was lost) is acked again, not delivered twice", async () => {
  const { agent, journal, store } = await setup();
  const link = newLink(linkOptions(agent.url, { sessionStore: store }));
  const calls: AgentInitiatedRun[] = [];
  link.onAgentInitiated(async (run) => {
    calls.push(run);
    return "handled";
  });
  await link.start();
  await waitFor(() => store.value !== undefined, "session saved");
  store.failSaves = 1; // the ack's persist fails: no ack goes out
  await agent.emitProactive("*", "News");
  await waitFor(() => calls.length === 1 && store.failSaves === 0, "handled, persist failed");
  await expectSteady(() => barrier(link), () => expect(journal.size()).toBeGreaterThan(0));
  agent.dropConnections();
  await waitFor(() => journal.size() === 0, "acked after the replay");
  expect(calls).toHaveLength(1);
});

test("frames emitted while no bot is connected are replayed on hello", async () => {
  const { agent, journal, store } = await setup();
  await agent.emitProactive("*", "first");
  await agent.emitProactive("*", "second");
  const link = newLink(linkOptions(agent.url, { sessionStore: store }));
  const texts: string[] = [];
  link.onAgentInitiated(async (run) => {
    texts.push(...run.messages);
    return "handled";
  });
  await link.start();
  await waitFor(() => journal.size() === 0, "both acked");
  expect(texts).toEqual(["first", "second"]);
});

test("a permanent nack makes the agent drop the run; a transient one gets it redelivered", async () => {
  const { agent, journal, store } = await setup();
  const link = newLink(linkOptions(agent.url, { sessionStore: store }));
  const calls: string[] = [];
  link.onAgentInitiated(async (run) => {
    calls.push(run.messages[0] ?? "");
    if (run.messages[0] === "gone") return { nack: true, reason: "room_gone", permanent: true };
    if (calls.filter((c) => c === "later").length === 1) return { nack: true, reason: "busy", permanent: false };
    return "handled";
  });
  await link.start();
  await agent.emitProactive("!gone", "gone");
  await waitFor(() => journal.size() === 0, "permanent nack dropped the run");
  await agent.emitProactive("t", "later");
  await waitFor(() => link.stats().nacksSent === 2, "transient nack sent");
  await expectSteady(() => barrier(link), () => expect(journal.size()).toBeGreaterThan(0));
  agent.dropConnections();
  await waitFor(() => journal.size() === 0, "redelivered and handled");
  expect(calls).toEqual(["gone", "later", "later"]);
});

test("agent-initiated runs interleaved with a bot run: each goes to its own place", async () => {
  const { agent, journal, store } = await setup(60);
  const link = newLink(linkOptions(agent.url, { sessionStore: store }));
  const delivered: string[][] = [];
  link.onAgentInitiated(async (run) => {
    delivered.push(run.messages);
    return "handled";
  });
  await link.start();
  const texts: string[] = [];
  const pending = link.run(runRequest("r1", "mine"), { onTextMessage: (_id, t) => void texts.push(t) });
  await agent.emitProactive("*", "theirs");
  expect(await pending).toEqual({ ok: true });
  await waitFor(() => journal.size() === 0, "acked");
  expect(texts).toEqual(["You said: mine"]);
  expect(delivered).toEqual([["theirs"]]);
});

test("the ack is cumulative: it never passes an agent-initiated run that is still being handled", async () => {
  const agent = await startScriptedAgent({
    onHello: (c) => {
      c.raw(JSON.stringify({ op: "ready", sessionId: "s-1", resumed: false }));
      for (const runId of ["A", "B"]) {
        c.event(runId, { type: "RUN_STARTED" }, { proactive: true, threadId: "*" });
        c.event(runId, { type: "TEXT_MESSAGE_START", messageId: runId }, { proactive: true, threadId: "*" });
        c.event(runId, { type: "TEXT_MESSAGE_CONTENT", messageId: runId, delta: `text ${runId}` }, { proactive: true, threadId: "*" });
        c.event(runId, { type: "TEXT_MESSAGE_END", messageId: runId }, { proactive: true, threadId: "*" });
        c.event(runId, { type: "RUN_FINISHED" }, { proactive: true, threadId: "*" });
      }
    },
  });
  const store = new MemorySessionStore();
  const link = newLink(linkOptions(agent.url, { sessionStore: store }));
  let releaseA!: () => void;
  const gateA = new Promise<void>((r) => (releaseA = r));
  const handled: string[] = [];
  link.onAgentInitiated(async (run) => {
    if (run.runId === "A") await gateA;
    handled.push(run.runId);
    return "handled";
  });
  await link.start();
  const acks = (): unknown[] => agent.latest().frames.filter((f) => f.op === "ack");
  // A still being handled: no ack (not even for B), however long one waits.
  await expectSteady(() => waitFor(() => handled.includes("B"), "B handled"), () => expect(acks()).toEqual([]));
  releaseA();
  await waitFor(() => acks().length === 1, "ack after A");
  expect(acks()).toEqual([{ op: "ack", seq: 10 }]);
  expect(store.value).toEqual({ sessionId: "s-1", lastSeq: 10 });
});
