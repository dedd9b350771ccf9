// Scheduled proactive check-ins: PROACTIVE_SCHEDULE + PROACTIVE_PROMPT produce an agent-initiated run for
// `*` (echo mode: the prompt text; LLM mode: the model's answer); an empty answer or the no-op marker sends
// nothing; a run nobody acked survives an agent restart and reaches the reconnecting bot once.
import {
  barrier, botLink, cleanup, expectSteady, fakeOpenAI, hello, llmEnv, ManualClock, rawClient, runRequest, startAgent, stopAgent, tempDataDir, waitFor,
  type Frame,
} from "./support";
import { waitFor as waitUntil } from "../../support/wait";
import { MemorySessionStore } from "../agent/support";

afterEach(cleanup);

const echoEnv = (dataDir: string, extra: Record<string, string> = {}) => ({
  DATA_DIR: dataDir, PROACTIVE_SCHEDULE: "0 9 * * *", PROACTIVE_PROMPT: "Good morning, everyone!", ...extra,
});

test("at the scheduled time (injected clock) echo mode posts the prompt as a proactive run for *", async () => {
  const clock = new ManualClock(Date.parse("2030-01-01T08:59:00Z"));
  const agent = await startAgent(echoEnv(tempDataDir()), { clock });
  const { delivered, link } = await botLink(agent.url);
  // The agent's check-ins are done, and everything it sent has reached the bot.
  const settled = async (): Promise<void> => {
    await agent.checkIns?.idle();
    await barrier(link);
  };
  expect(agent.checkIns?.nextRun()?.toISOString()).toBe("2030-01-01T09:00:00.000Z");
  await clock.advanceTo("2030-01-01T08:59:59Z");
  await expectSteady(settled, () => {
    expect(delivered).toEqual([]);
    expect(agent.checkIns?.stats().sent).toBe(0);
  });
  await clock.advanceTo("2030-01-01T09:00:00Z");
  await waitFor(() => delivered.length === 1, "the check-in");
  expect(delivered[0]).toMatchObject({ threadId: "*", proactive: true, messages: ["Good morning, everyone!"] });
  expect(agent.checkIns?.nextRun()?.toISOString()).toBe("2030-01-02T09:00:00.000Z");
  await expectSteady(settled, () => expect(delivered).toHaveLength(1)); // no second run
});

test("a cron pattern with seconds fires on the real clock (every second)", async () => {
  const agent = await startAgent(echoEnv(tempDataDir(), { PROACTIVE_SCHEDULE: "* * * * * *", PROACTIVE_PROMPT: "tick" }));
  const { delivered } = await botLink(agent.url);
  await waitFor(() => delivered.length >= 1, "a check-in within a few seconds");
  expect(delivered[0]).toMatchObject({ threadId: "*", proactive: true, messages: ["tick"] });
});

test("LLM mode: the model is asked the prompt (with the time and the no-op instruction); its answer is posted", async () => {
  const fake = await fakeOpenAI();
  fake.next({ kind: "stream", chunks: ["Stand-up ", "in 5 minutes."] });
  const clock = new ManualClock(Date.parse("2030-01-01T08:59:59Z"));
  const env = llmEnv(fake, tempDataDir(), {
    LLM_SYSTEM_PROMPT: "You are the team bot.", PROACTIVE_SCHEDULE: "0 * * * * *", PROACTIVE_PROMPT: "Anything to announce?",
  });
  const agent = await startAgent(env, { clock });
  const { delivered } = await botLink(agent.url);
  await clock.advanceTo("2030-01-01T09:00:00Z");
  await waitFor(() => delivered.length === 1, "the check-in");
  expect(delivered[0]).toMatchObject({ threadId: "*", proactive: true, messages: ["Stand-up in 5 minutes."] });
  const messages = fake.requests[0]?.body.messages ?? [];
  expect(messages[0]).toEqual({ role: "system", content: "You are the team bot." });
  expect(messages[1]?.content).toMatch(/^Anything to announce\?\n\n\(Current time: 2030-01-01T09:00:00.000Z\. .*exactly \[\[nothing\]\]/);
});

test("the no-op marker, an empty answer or a failed request send nothing; the schedule goes on", async () => {
  const fake = await fakeOpenAI();
  fake.next(
    { kind: "stream", chunks: ["[[nothing]]"] },
    { kind: "stream", chunks: ["Nothing new today. ", "[[nothing]]"] },
    { kind: "stream", chunks: ["  "] },
    { kind: "status", status: 500 },
    { kind: "stream", chunks: ["Real news."] },
  );
  const clock = new ManualClock(Date.parse("2030-01-01T09:00:00Z"));
  const agent = await startAgent(llmEnv(fake, tempDataDir(), { PROACTIVE_SCHEDULE: "*/10 * * * * *", PROACTIVE_PROMPT: "News?" }), { clock });
  const { delivered, link } = await botLink(agent.url);
  for (const [i, at] of ["09:00:10", "09:00:20", "09:00:30", "09:00:40", "09:00:50"].entries()) {
    await clock.advanceTo(`2030-01-01T${at}Z`);
    await waitFor(() => fake.requests.length === i + 1, `check-in ${i + 1}`);
    await agent.checkIns?.idle();
  }
  expect(agent.checkIns?.stats()).toEqual({ sent: 1, nothing: 3, failed: 1, skipped: 0 });
  await waitFor(() => delivered.length === 1, "the one real check-in");
  await expectSteady(async () => {
    await agent.checkIns?.idle();
    await barrier(link);
  }, () => expect(delivered.map((r) => r.messages)).toEqual([["Real news."]]));
  expect(await agent.unackedFrames()).toBe(0);
});

test("a configured PROACTIVE_NOOP_MARKER replaces the default", async () => {
  const fake = await fakeOpenAI();
  fake.next({ kind: "stream", chunks: ["SKIP"] }, { kind: "stream", chunks: ["[[nothing]] is not my marker"] });
  const agent = await startAgent(llmEnv(fake, tempDataDir(), {
    PROACTIVE_SCHEDULE: "0 9 * * *", PROACTIVE_PROMPT: "News?", PROACTIVE_NOOP_MARKER: "SKIP",
  }), { clock: new ManualClock(0) });
  expect(await agent.checkIns?.runOnce()).toBe("nothing");
  expect(await agent.checkIns?.runOnce()).toBe("sent");
  expect(fake.requests[0]?.body.messages?.[0]?.content).toMatch(/exactly SKIP/);
});

test("a check-in produced while no bot is connected survives an agent restart, arrives once, and is dropped after the ack", async () => {
  const dataDir = tempDataDir();
  const clock = new ManualClock(Date.parse("2030-01-01T08:59:00Z"));
  const first = await startAgent(echoEnv(dataDir), { clock });
  await clock.advanceTo("2030-01-01T09:00:00Z");
  await first.checkIns?.idle();
  expect(first.connections()).toBe(0);
  expect(first.checkIns?.stats().sent).toBe(1);
  await stopAgent(first);
  const second = await startAgent(echoEnv(dataDir), { clock: new ManualClock(Date.parse("2030-01-01T09:00:01Z")) });
  expect(await second.unackedFrames()).toBeGreaterThan(0);

  const sessions = new MemorySessionStore();
  const bot = await botLink(second.url, sessions);
  await waitFor(() => bot.delivered.length === 1, "the replayed check-in");
  expect(bot.delivered[0]).toMatchObject({ threadId: "*", proactive: true, messages: ["Good morning, everyone!"] });
  await waitFor(() => bot.link.stats().acksSent > 0, "the ack");
  await waitFor(() => sessions.value !== undefined && sessions.value.lastSeq > 0, "the saved session");
  await waitUntil(async () => (await second.unackedFrames()) === 0, { what: "the journal emptied by the ack" });

  // The bot reconnects (to a restarted agent): nothing is delivered again.
  await bot.link.stop();
  await stopAgent(second);
  const third = await startAgent(echoEnv(dataDir), { clock: new ManualClock(Date.parse("2030-01-01T09:00:02Z")) });
  const again = await botLink(third.url, sessions);
  const raw = await rawClient(third.url);
  raw.send(hello()); // an unknown session would get every unacked frame
  await waitFor(() => raw.frames.length >= 1, "ready");
  // A run on each connection: its answer comes after anything replayed on that connection.
  const replayed = (): Frame[] => raw.events().filter((f) => !String(f.runId).startsWith("raw-barrier"));
  let rawBarriers = 0;
  await expectSteady(async () => {
    await barrier(again.link);
    const before = raw.events().length;
    const runId = `raw-barrier-${(rawBarriers += 1)}`;
    raw.send({ op: "run", ...runRequest(runId, "barrier", runId) });
    await waitFor(() => raw.events().slice(before).some((f) => (f.event as Frame).type === "RUN_FINISHED"), "the raw client's barrier run");
  }, () => {
    expect(again.delivered).toEqual([]);
    expect(replayed()).toEqual([]);
  });
});

test("a bot resuming its session after an agent restart keeps its seqs: the frames it handled are not replayed", async () => {
  const dataDir = tempDataDir();
  const first = await startAgent(echoEnv(dataDir), { clock: new ManualClock(0) });
  const a = await rawClient(first.url);
  a.send(hello());
  await waitFor(() => a.frames.length === 1, "ready");
  const sessionId = a.frames[0]?.sessionId as string;
  await first.emitProactive("*", "one");
  await first.emitProactive("*", "two");
  await waitFor(() => a.events().length === 12, "both runs");
  const firstRun = a.events().slice(0, 6);
  expect(firstRun.map((f) => f.seq)).toEqual([1, 2, 3, 4, 5, 6]);
  a.ws.terminate(); // the bot handled the first run durably, but its ack never arrived
  await stopAgent(first);

  const second = await startAgent(echoEnv(dataDir), { clock: new ManualClock(0) });
  const b = await rawClient(second.url);
  b.send(hello({ sessionId, lastSeq: 6 }));
  await waitFor(() => b.events().length === 6, "the second run replayed");
  expect(b.frames[0]).toMatchObject({ op: "ready", sessionId, resumed: true });
  expect(b.events().map((f) => f.seq)).toEqual([7, 8, 9, 10, 11, 12]);
  expect(b.events().map((f) => (f.event as Frame).delta ?? "").join("")).toBe("two");
  b.send({ op: "ack", seq: 12 });
  await waitUntil(async () => (await second.unackedFrames()) === 0, { what: "acked" });
  await second.emitProactive("*", "three");
  await waitFor(() => b.events().length === 12, "the next run");
  expect(b.events()[6]?.seq).toBe(13);
});
