// The link's connection: handshake, resume, heartbeat (half-open), backoff and policy closes.
import type { LinkState } from "../../../src/agent/link";
import {
  capturingLogger, expectSteady, linkOptions, type LogLine, MemorySessionStore, newLink, referenceAgent, runRequest, tearDown, waitFor,
} from "./support";
import { startScriptedAgent } from "../../support/scripted-agent";

afterEach(tearDown);

const reconnectLogs = (lines: LogLine[]): LogLine[] => lines.filter((l) => typeof l.delayMs === "number");

test("hello carries the client name, the protocols offered and the persisted session as resume", async () => {
  const agent = await startScriptedAgent();
  const store = new MemorySessionStore({ sessionId: "s-7f", lastSeq: 1041 });
  const link = newLink(linkOptions(agent.url, { sessionStore: store, token: "sekret" }));
  await link.start();
  expect(link.state()).toBe("up");
  expect(agent.latest().hello).toEqual({
    op: "hello",
    protocol: "matrix-agent/1",
    protocols: ["matrix-agent/2", "matrix-agent/1"],
    client: "matrix-agent-bot/test",
    resume: { sessionId: "s-7f", lastSeq: 1041 },
  });
  expect(agent.latest().headers.authorization).toBe("Bearer sekret");
  // A new session id from the agent is persisted (lastSeq restarts with the session).
  await waitFor(() => store.value?.sessionId === "s-1", "session saved");
  expect(store.value).toEqual({ sessionId: "s-1", lastSeq: 0 });
});

test("a resumed session keeps its lastSeq and the link resumes it after a reconnect", async () => {
  const agent = await referenceAgent();
  const store = new MemorySessionStore();
  const link = newLink(linkOptions(agent.url, { sessionStore: store }));
  const seen: LinkState[] = [];
  link.onStateChange((s) => seen.push(s));
  await link.start();
  await waitFor(() => store.value !== undefined, "first session saved");
  const first = store.value?.sessionId;
  agent.dropConnections();
  // Recorded, not polled: the link may drop and come back between two polls.
  await waitFor(() => seen.includes("down"), "link noticed the drop");
  await waitFor(() => link.state() === "up", "link back up");
  expect(store.value?.sessionId).toBe(first);
  expect(store.saved).toHaveLength(1); // resumed: nothing new to save
  expect(await link.run(runRequest("r1"), { onTextMessage: () => undefined })).toEqual({ ok: true });
});

test("state changes are reported: connecting, up, down, connecting, up, stopped", async () => {
  const agent = await startScriptedAgent();
  const link = newLink(linkOptions(agent.url));
  const seen: LinkState[] = [];
  link.onStateChange((s) => seen.push(s));
  await link.start();
  agent.latest().ws.terminate();
  await waitFor(() => agent.conns.length === 2 && link.state() === "up", "reconnected");
  await link.stop();
  expect(seen).toEqual(["connecting", "up", "down", "connecting", "up", "stopped"]);
  expect(link.stats().reconnects).toBe(1);
});

test("a half-open connection (no pong) is detected, dropped and replaced", async () => {
  const agent = await startScriptedAgent({ autoPong: false });
  const { logger, lines } = capturingLogger();
  const link = newLink(linkOptions(agent.url, { logger, heartbeatMs: 20, pongTimeoutMs: 40 }));
  await link.start();
  await waitFor(() => agent.conns.length >= 2, "a second connection");
  expect(lines.some((l) => /no pong/.test(l.msg ?? ""))).toBe(true);
  expect(link.stats().reconnects).toBeGreaterThanOrEqual(1);
});

test("an agent that keeps sending frames is alive even when its pongs are late (the pong waits behind them)", async () => {
  const agent = await startScriptedAgent({ autoPong: false });
  const link = newLink(linkOptions(agent.url, { heartbeatMs: 20, pongTimeoutMs: 200 }));
  await link.start();
  await waitFor(() => agent.conns.length === 1 && agent.latest().hello !== undefined, "connected");
  const chatter = setInterval(() => agent.latest().raw(JSON.stringify({ op: "error", code: "noise", message: "still here" })), 10);
  const conn = agent.latest();
  try {
    // Many heartbeats without a pong (longer than the pong timeout), never without a frame.
    await waitFor(() => conn.pings >= 15 || agent.conns.length > 1, "15 heartbeats");
  } finally {
    clearInterval(chatter);
  }
  expect(agent.conns).toHaveLength(1);
  await waitFor(() => agent.conns.length >= 2, "dropped once the agent falls silent");
});

test("the agent's smaller ready.heartbeatMs wins", async () => {
  const agent = await startScriptedAgent({
    autoPong: false,
    onHello: (c) => c.raw(JSON.stringify({ op: "ready", sessionId: "s-1", resumed: false, heartbeatMs: 10 })),
  });
  const link = newLink(linkOptions(agent.url, { heartbeatMs: 60_000, pongTimeoutMs: 30 }));
  await link.start();
  await waitFor(() => agent.conns.length >= 2, "reconnect after the missed pong");
});

test("backoff grows per attempt and resets only after the link stayed up", async () => {
  let holdMs = 0;
  const agent = await startScriptedAgent({
    onHello: (c) => {
      c.raw(JSON.stringify({ op: "ready", sessionId: "s-1", resumed: false }));
      setTimeout(() => c.ws.close(1011, "bye"), holdMs);
    },
  });
  const { logger, lines } = capturingLogger();
  const link = newLink(
    linkOptions(agent.url, {
      logger,
      random: () => 1,
      reconnectBaseMs: 10,
      reconnectMaxMs: 10_000,
      reconnectResetMs: 1_500, // far above a quick drop's lifetime, even on a busy machine
    }),
  );
  await link.start();
  await waitFor(() => reconnectLogs(lines).length >= 3, "three quick drops");
  holdMs = 3_000; // the next connection stays up longer than reconnectResetMs
  await waitFor(() => reconnectLogs(lines).length >= 4, "a drop after staying up");
  expect(reconnectLogs(lines).map((l) => l.delayMs)).toEqual([10, 20, 40, 10]);
});

test("full jitter: the delay is random() times the capped exponential", async () => {
  const agent = await startScriptedAgent({ onHello: (c) => c.ws.close(1011, "bye") });
  const { logger, lines } = capturingLogger();
  const link = newLink(linkOptions(agent.url, { logger, random: () => 0.5, reconnectBaseMs: 10, reconnectMaxMs: 30 }));
  await link.start();
  await waitFor(() => reconnectLogs(lines).length >= 4, "four drops");
  expect(reconnectLogs(lines).slice(0, 4).map((l) => l.delayMs)).toEqual([5, 10, 15, 15]);
});

test("a short outage never draws a long wait: each delay is at most twice the outage so far (or twice the base)", async () => {
  const draws = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1]; // eight instant retries, then the full ceiling
  let i = 0;
  const agent = await startScriptedAgent({ onHello: (c) => c.ws.close(1011, "bye") });
  const { logger, lines } = capturingLogger();
  const link = newLink(linkOptions(agent.url, { logger, random: () => draws[i++] ?? 1, reconnectBaseMs: 10, reconnectMaxMs: 60_000 }));
  await link.start();
  await waitFor(() => reconnectLogs(lines).length >= 10, "ten drops");
  for (const line of reconnectLogs(lines).slice(0, 10)) {
    expect(line.delayMs).toBeLessThanOrEqual(2 * Math.max(10, Number(line["outageMs"])));
  }
  // Without that bound the ninth draw would have been the exponential ceiling: 10 * 2^8 = 2,560 ms.
  expect(reconnectLogs(lines)[8]?.delayMs).toBe(Math.min(2_560, 2 * Math.max(10, Number(reconnectLogs(lines)[8]?.["outageMs"]))));
});

test("close code 1008 is not retried in a tight loop: max backoff, logged as an error with the reason", async () => {
  const agent = await startScriptedAgent({ onHello: (c) => c.ws.close(1008, "token revoked") });
  const { logger, lines } = capturingLogger();
  const link = newLink(linkOptions(agent.url, { logger, reconnectMaxMs: 5_000 }));
  await link.start();
  await expectSteady(() => waitFor(() => reconnectLogs(lines).length >= 1, "the close is logged"),
    () => expect(agent.conns).toHaveLength(1)); // the next attempt waits the maximum backoff
  const line = reconnectLogs(lines)[0];
  expect(line).toMatchObject({ level: 50, code: 1008, reason: "token revoked", delayMs: 5_000 });
});

test("4xxx close codes are treated like 1008", async () => {
  const agent = await startScriptedAgent({ onHello: (c) => c.ws.close(4003, "go away") });
  const { logger, lines } = capturingLogger();
  const link = newLink(linkOptions(agent.url, { logger, reconnectMaxMs: 5_000 }));
  await link.start();
  await waitFor(() => reconnectLogs(lines).length >= 1, "the close is logged");
  expect(reconnectLogs(lines)[0]).toMatchObject({ level: 50, code: 4003, delayMs: 5_000 });
});

test("a rejected token (HTTP 401) is retried slowly, and the token is never logged", async () => {
  const agent = await referenceAgent({ token: "right-token" });
  const { logger, lines } = capturingLogger();
  const link = newLink(linkOptions(agent.url, { logger, token: "wrong-token-value", reconnectMaxMs: 5_000 }));
  await link.start();
  await waitFor(() => reconnectLogs(lines).length >= 1, "the refusal is logged");
  expect(link.state()).toBe("down");
  expect(reconnectLogs(lines)[0]).toMatchObject({ level: 50, delayMs: 5_000 });
  expect(JSON.stringify(lines)).not.toContain("wrong-token-value");
});

test("the right token connects to the reference agent", async () => {
  const agent = await referenceAgent({ token: "right-token" });
  const link = newLink(linkOptions(agent.url, { token: "right-token" }));
  await link.start();
  expect(link.state()).toBe("up");
  expect(agent.connections()).toBe(1);
});

test("an agent that never answers hello is dropped after connectTimeoutMs and retried", async () => {
  const agent = await startScriptedAgent({ onHello: () => undefined });
  const link = newLink(linkOptions(agent.url, { connectTimeoutMs: 40 }));
  await link.start();
  expect(link.state()).toBe("down");
  await waitFor(() => agent.conns.length >= 2, "a retry");
});
