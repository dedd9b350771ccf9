// Bot-started runs over the agent link: replies, streaming, and every failure class.
import { echoReply } from "../../../src/reference-agent/server";
import type { RunObserver } from "../../../src/agent/link";
import { freePort, linkOptions, newLink, referenceAgent, runRequest, tearDown, waitFor } from "./support";
import { startScriptedAgent, type ScriptedConn } from "../../support/scripted-agent";

afterEach(tearDown);

const echoAgent = (delayMs = 0) => referenceAgent({ mode: { kind: "echo", delayMs } });

function recorder(): RunObserver & { texts: string[]; deltas: string[]; started: number } {
  const r = {
    texts: [] as string[],
    deltas: [] as string[],
    started: 0,
    onStarted: () => void (r.started += 1),
    onTextDelta: (_id: string, d: string) => void r.deltas.push(d),
    onTextMessage: (_id: string, t: string) => void r.texts.push(t),
  };
  return r;
}

const cancelsOf = (conn: ScriptedConn): unknown[] => conn.frames.filter((f) => f.op === "cancel").map((f) => f.runId);

test("an echo run against the reference agent yields the reply as one message, streamed in deltas", async () => {
  const agent = await echoAgent();
  const link = newLink(linkOptions(agent.url));
  await link.start();
  const obs = recorder();
  const result = await link.run(runRequest("r1", "hello there"), obs);
  expect(result).toEqual({ ok: true });
  expect(obs.started).toBe(1);
  expect(obs.texts).toEqual([echoReply("hello there")]);
  expect(obs.deltas.length).toBeGreaterThan(1);
  expect(obs.deltas.join("")).toBe(echoReply("hello there"));
});

test("a run waits for the link when it is still connecting", async () => {
  const agent = await echoAgent();
  const link = newLink(linkOptions(agent.url));
  void link.start();
  const obs = recorder();
  expect(await link.run(runRequest("r1", "early"), obs)).toEqual({ ok: true });
  expect(obs.texts).toEqual([echoReply("early")]);
});

test("two TEXT_MESSAGEs become two onTextMessage calls, in order, each awaited before the next", async () => {
  const agent = await startScriptedAgent({
    onFrame: (c, f) => {
      if (f.op !== "run") return;
      const runId = f.runId as string;
      c.event(runId, { type: "RUN_STARTED" });
      c.event(runId, { type: "TEXT_MESSAGE_START", messageId: "a" });
      c.event(runId, { type: "TEXT_MESSAGE_CONTENT", messageId: "a", delta: "first " });
      c.event(runId, { type: "TOOL_CALL_START", toolCallId: "x" }); // unknown: ignored
      c.event(runId, { type: "TEXT_MESSAGE_CONTENT", messageId: "a", delta: "part" });
      c.event(runId, { type: "TEXT_MESSAGE_END", messageId: "a" });
      c.event(runId, { type: "TEXT_MESSAGE_START", messageId: "b" });
      c.event(runId, { type: "TEXT_MESSAGE_CONTENT", messageId: "b", delta: "second" });
      c.event(runId, { type: "TEXT_MESSAGE_END", messageId: "b" });
      c.event(runId, { type: "RUN_FINISHED" });
    },
  });
  const link = newLink(linkOptions(agent.url));
  await link.start();
  const log: string[] = [];
  const result = await link.run(runRequest("r1"), {
    onTextMessage: async (id, text) => {
      log.push(`begin ${id}:${text}`);
      await new Promise((r) => setTimeout(r, 20));
      log.push(`end ${id}`);
    },
  });
  expect(result).toEqual({ ok: true });
  expect(log).toEqual(["begin a:first part", "end a", "begin b:second", "end b"]);
});

test("a duplicate event frame (seq already seen) is ignored", async () => {
  const agent = await startScriptedAgent({
    onFrame: (c, f) => {
      if (f.op !== "run") return;
      const runId = f.runId as string;
      const frame = (seq: number, event: object): string => JSON.stringify({ op: "event", seq, threadId: "t1", runId, event });
      c.raw(frame(1, { type: "RUN_STARTED" }));
      c.raw(frame(2, { type: "TEXT_MESSAGE_START", messageId: "m" }));
      c.raw(frame(3, { type: "TEXT_MESSAGE_CONTENT", messageId: "m", delta: "once" }));
      c.raw(frame(3, { type: "TEXT_MESSAGE_CONTENT", messageId: "m", delta: "once" }));
      c.raw(frame(4, { type: "TEXT_MESSAGE_END", messageId: "m" }));
      c.raw(frame(5, { type: "RUN_FINISHED" }));
    },
  });
  const link = newLink(linkOptions(agent.url));
  await link.start();
  const obs = recorder();
  expect(await link.run(runRequest("r1"), obs)).toEqual({ ok: true });
  expect(obs.texts).toEqual(["once"]);
  expect(link.stats().duplicatesIgnored).toBe(1);
});

test("a stray frame with a wrong, huge seq (an agent bug) does not make the next run's frames look like duplicates", async () => {
  const agent = await startScriptedAgent({
    onFrame: (c, f) => {
      if (f.op !== "run") return;
      const runId = f.runId as string;
      c.raw(JSON.stringify({ op: "event", seq: Number.MAX_SAFE_INTEGER, threadId: "t9", runId: "stray", event: { type: "RUN_STARTED" } }));
      c.answer(runId, "still answered");
    },
  });
  const link = newLink(linkOptions(agent.url));
  await link.start();
  const obs = recorder();
  expect(await link.run(runRequest("r1"), obs)).toEqual({ ok: true });
  expect(obs.texts).toEqual(["still answered"]);
});

test("unreachable: nothing listens at the agent URL", async () => {
  const port = await freePort();
  const link = newLink(linkOptions(`ws://127.0.0.1:${port}`, { runStartTimeoutMs: 100 }));
  await link.start();
  const result = await link.run(runRequest("r1"), recorder());
  expect(result).toMatchObject({ ok: false, failure: { kind: "unreachable" } });
});

test("link_lost: the connection drops mid-run and the run is not resent", async () => {
  const agent = await startScriptedAgent({
    onFrame: (c, f) => {
      if (f.op === "run") {
        c.event(f.runId as string, { type: "RUN_STARTED" });
        setTimeout(() => c.ws.terminate(), 10);
      }
    },
  });
  const link = newLink(linkOptions(agent.url));
  await link.start();
  const result = await link.run(runRequest("r1"), recorder());
  expect(result).toMatchObject({ ok: false, failure: { kind: "link_lost" } });
  await waitFor(() => link.state() === "up" && agent.conns.length === 2, "reconnect");
  const runsSent = agent.conns.flatMap((c) => c.frames).filter((f) => f.op === "run");
  expect(runsSent).toHaveLength(1);
});

test("no_start: the agent never sends RUN_STARTED; the run is cancelled at the agent", async () => {
  const agent = await startScriptedAgent();
  const link = newLink(linkOptions(agent.url, { runStartTimeoutMs: 50 }));
  await link.start();
  const result = await link.run(runRequest("r1"), recorder());
  expect(result).toMatchObject({ ok: false, failure: { kind: "no_start" } });
  await waitFor(() => cancelsOf(agent.latest()).length === 1, "cancel frame");
  expect(cancelsOf(agent.latest())).toEqual(["r1"]);
});

test("idle: the agent starts, then goes silent", async () => {
  const agent = await startScriptedAgent({
    onFrame: (c, f) => f.op === "run" && c.event(f.runId as string, { type: "RUN_STARTED" }),
  });
  const link = newLink(linkOptions(agent.url, { runIdleTimeoutMs: 60 }));
  await link.start();
  const result = await link.run(runRequest("r1"), recorder());
  expect(result).toMatchObject({ ok: false, failure: { kind: "idle" } });
  await waitFor(() => cancelsOf(agent.latest()).length === 1, "cancel frame");
});

test("idle: every frame restarts the wait, so a run that keeps streaming outlives runIdleTimeoutMs", async () => {
  const agent = await startScriptedAgent({
    onFrame: (c, f) => {
      if (f.op !== "run") return;
      const runId = f.runId as string;
      c.event(runId, { type: "RUN_STARTED" });
      c.event(runId, { type: "TEXT_MESSAGE_START", messageId: "m" });
      const startedAt = Date.now();
      const timer = setInterval(() => {
        // Streamed for twice the idle timeout (each gap far shorter than it), then finished.
        if (Date.now() - startedAt < 3_000) return c.event(runId, { type: "TEXT_MESSAGE_CONTENT", messageId: "m", delta: "." });
        clearInterval(timer);
        c.event(runId, { type: "TEXT_MESSAGE_END", messageId: "m" });
        c.event(runId, { type: "RUN_FINISHED" });
      }, 20);
    },
  });
  const link = newLink(linkOptions(agent.url, { runIdleTimeoutMs: 1_500 }));
  await link.start();
  const result = await link.run(runRequest("r1"), recorder());
  expect(result).toMatchObject({ ok: true });
});

test("deadline: the agent keeps streaming past the run's deadline", async () => {
  let timer: NodeJS.Timeout | undefined;
  const agent = await startScriptedAgent({
    onFrame: (c, f) => {
      if (f.op === "cancel" && timer) clearInterval(timer);
      if (f.op !== "run") return;
      const runId = f.runId as string;
      c.event(runId, { type: "RUN_STARTED" });
      c.event(runId, { type: "TEXT_MESSAGE_START", messageId: "m" });
      timer = setInterval(() => c.event(runId, { type: "TEXT_MESSAGE_CONTENT", messageId: "m", delta: "." }), 5);
    },
  });
  const link = newLink(linkOptions(agent.url, { runIdleTimeoutMs: 1_000, runDeadlineMs: 150 }));
  await link.start();
  const obs = recorder();
  const result = await link.run(runRequest("r1"), obs);
  if (timer) clearInterval(timer);
  expect(result).toMatchObject({ ok: false, failure: { kind: "deadline" } });
  expect(obs.texts).toEqual([]);
  await waitFor(() => cancelsOf(agent.latest()).length === 1, "cancel frame");
});

test("bad_frame: a malformed frame naming a run fails only that run", async () => {
  const agent = await startScriptedAgent({
    onFrame: (c, f) => {
      if (f.op !== "run") return;
      const runId = f.runId as string;
      c.event(runId, { type: "RUN_STARTED" }, { threadId: runId });
      if (runId === "bad") {
        c.raw(JSON.stringify({ op: "event", seq: "nope", threadId: "bad", runId: "bad", event: { type: "RUN_FINISHED" } }));
      } else {
        setTimeout(() => {
          c.event(runId, { type: "TEXT_MESSAGE_START", messageId: "m" });
          c.event(runId, { type: "TEXT_MESSAGE_CONTENT", messageId: "m", delta: "fine" });
          c.event(runId, { type: "TEXT_MESSAGE_END", messageId: "m" });
          c.event(runId, { type: "RUN_FINISHED" });
        }, 30);
      }
    },
  });
  const link = newLink(linkOptions(agent.url));
  await link.start();
  const good = recorder();
  const [bad, ok] = await Promise.all([
    link.run(runRequest("bad", "x", "bad"), recorder()),
    link.run(runRequest("good", "y", "good"), good),
  ]);
  expect(bad).toMatchObject({ ok: false, failure: { kind: "bad_frame" } });
  expect(ok).toEqual({ ok: true });
  expect(good.texts).toEqual(["fine"]);
  expect(link.state()).toBe("up");
});

test("a malformed frame naming no run is only logged; runs go on", async () => {
  const agent = await startScriptedAgent({
    onFrame: (c, f) => {
      if (f.op !== "run") return;
      const runId = f.runId as string;
      c.event(runId, { type: "RUN_STARTED" });
      c.raw("this is not json");
      c.raw(JSON.stringify({ op: "event", seq: 99 }));
      c.raw(JSON.stringify({ op: "mystery" }));
      c.event(runId, { type: "TEXT_MESSAGE_START", messageId: "m" });
      c.event(runId, { type: "TEXT_MESSAGE_CONTENT", messageId: "m", delta: "still here" });
      c.event(runId, { type: "TEXT_MESSAGE_END", messageId: "m" });
      c.event(runId, { type: "RUN_FINISHED" });
    },
  });
  const link = newLink(linkOptions(agent.url));
  await link.start();
  const obs = recorder();
  expect(await link.run(runRequest("r1"), obs)).toEqual({ ok: true });
  expect(obs.texts).toEqual(["still here"]);
  expect(link.stats().framesRejected).toBe(3);
});

test("RUN_ERROR becomes agent_error with its code, message and retryable flag", async () => {
  const agent = await startScriptedAgent({
    onFrame: (c, f) => {
      if (f.op !== "run") return;
      c.event(f.runId as string, { type: "RUN_STARTED" });
      c.event(f.runId as string, { type: "RUN_ERROR", code: "rate_limited", message: "slow down", retryable: true });
    },
  });
  const link = newLink(linkOptions(agent.url));
  await link.start();
  const result = await link.run(runRequest("r1"), recorder());
  expect(result).toEqual({
    ok: false,
    failure: { kind: "agent_error", code: "rate_limited", message: "slow down", retryable: true },
  });
});

test("an error frame from the agent naming the run fails it as bad_frame", async () => {
  const agent = await startScriptedAgent({
    onFrame: (c, f) => f.op === "run" && c.raw(JSON.stringify({ op: "error", runId: f.runId, code: "bad_frame", message: "no" })),
  });
  const link = newLink(linkOptions(agent.url));
  await link.start();
  expect(await link.run(runRequest("r1"), recorder())).toMatchObject({ ok: false, failure: { kind: "bad_frame" } });
});

test("aborting the signal cancels the run locally and at the agent", async () => {
  const agent = await startScriptedAgent({
    onFrame: (c, f) => f.op === "run" && c.event(f.runId as string, { type: "RUN_STARTED" }),
  });
  const link = newLink(linkOptions(agent.url));
  await link.start();
  const controller = new AbortController();
  const pending = link.run(runRequest("r1"), { onStarted: () => controller.abort(), onTextMessage: () => undefined }, controller.signal);
  expect(await pending).toMatchObject({ ok: false, failure: { kind: "cancelled" } });
  await waitFor(() => cancelsOf(agent.latest()).length === 1, "cancel frame");
});

test("stop() fails in-flight runs and later runs are unreachable", async () => {
  const agent = await echoAgent(5_000);
  const link = newLink(linkOptions(agent.url));
  await link.start();
  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const inFlight = link.run(runRequest("r1"), { onStarted: () => markStarted(), onTextMessage: () => undefined });
  await started;
  await link.stop();
  expect(await inFlight).toMatchObject({ ok: false, failure: { kind: "link_lost" } });
  expect(link.state()).toBe("stopped");
  expect(await link.run(runRequest("r2"), recorder())).toMatchObject({ ok: false, failure: { kind: "unreachable" } });
});

test("runs started together (their frames written in one go) each reach the agent whole and get their own answer", async () => {
  const agent = await echoAgent();
  const link = newLink(linkOptions(agent.url));
  await link.start();
  const observers = Array.from({ length: 40 }, () => recorder());
  const results = await Promise.all(observers.map((obs, i) => link.run(runRequest(`r${i}`, `question ${i} ${"x".repeat(i * 37)}`, `t${i}`), obs)));
  expect(results.every((r) => r.ok)).toBe(true);
  expect(observers.map((o) => o.texts)).toEqual(observers.map((_, i) => [echoReply(`question ${i} ${"x".repeat(i * 37)}`)]));
});
