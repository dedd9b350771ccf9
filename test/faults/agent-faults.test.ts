// Faults on the agent side of the bot (client mode): the agent process SIGKILLed in the middle of a turn, the
// agent restarted while agent-initiated (proactive) runs are still unacked, and a socket that goes half-open
// again and again. Deadlines are multiples of the configured heartbeat, pong and reconnect timings.
import { randomBytes } from "node:crypto";
import { freePort, makeDataDir, removeDir } from "../support/bot-harness";
import { startFakeOpenAI, type FakeOpenAI } from "../support/fake-openai";
import { createJoinedRooms, MANY_ROOMS_POLL } from "../support/fanout-world";
import { FaultyStoreAdapter } from "../support/faulty-store";
import { Scenario } from "../support/scenario";
import { closeScriptedAgents, startScriptedAgent } from "../support/scripted-agent";
import { FAILURE_TEXTS } from "../../src/turns/failure-text";
import { AgentProcess, bodiesPerRoom, currentSyncToken, EVERY_LOG_LINE, logTime, printFigure, seedKnownRooms, sleep, timing } from "./support";

const HEARTBEAT_MS = timing("AGENT_HEARTBEAT_MS");
const PONG_TIMEOUT_MS = timing("AGENT_PONG_TIMEOUT_MS");
const RECONNECT_MAX_MS = timing("AGENT_RECONNECT_MAX_MS");
const RUN_START_TIMEOUT_MS = timing("RUN_START_TIMEOUT_MS");

const linkUps = (s: Scenario): number => s.bot.logs.lines().filter((l) => l.msg === "agent link up").length;

describe("fault: the agent", () => {
  let s: Scenario | undefined;
  let llm: FakeOpenAI | undefined;
  const agents: AgentProcess[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    await s?.stop();
    s = undefined;
    for (const agent of agents.splice(0)) await agent.stop();
    await llm?.close();
    llm = undefined;
    for (const dir of dirs.splice(0)) removeDir(dir);
    await closeScriptedAgents();
  });

  it("killed (SIGKILL) mid-turn: the user is told, and the next turn after it is back is answered", async () => {
    llm = await startFakeOpenAI();
    llm.next({ kind: "hang" }); // the first answer never comes: the turn is in flight when the agent dies
    const port = await freePort();
    const token = randomBytes(16).toString("hex");
    const agentDir = makeDataDir();
    dirs.push(agentDir);
    const agentEnv = { AGENT_PORT: String(port), AGENT_TOKEN: token, DATA_DIR: agentDir, LLM_BASE_URL: llm.baseUrl, LLM_MODEL: "fake-model" };
    const startAgent = async (): Promise<AgentProcess> => {
      const agent = new AgentProcess(agentEnv);
      agents.push(agent);
      return agent.ready();
    };
    const agent = await startAgent();
    const world = (s = await Scenario.start({ mode: "client", env: { AGENT_URL: `ws://127.0.0.1:${port}`, AGENT_TOKEN: token } }));
    const roomId = await world.openDm();

    await world.alice.sendText(roomId, "tell me a very long story");
    await world.hs.waitFor(() => llm?.requests.length === 1, { what: "the turn reached the model" });
    const killedAt = Date.now();
    agent.kill("SIGKILL");
    expect((await agent.exited).signal).toBe("SIGKILL");
    // The socket closes with the process; at worst a missed pong reveals it.
    const [notice] = await world.hs.waitFor(() => {
      const msgs = world.botMessages(roomId);
      return msgs.length > 0 ? msgs : undefined;
    }, { what: "the user told", timeoutMs: 2 * (HEARTBEAT_MS + PONG_TIMEOUT_MS) });
    expect(notice?.content).toMatchObject({ msgtype: "m.notice", body: FAILURE_TEXTS.link_lost });
    const noticeMs = (notice?.origin_server_ts ?? 0) - killedAt;

    const upsBefore = linkUps(world);
    await startAgent();
    await world.hs.waitFor(() => linkUps(world) > upsBefore, { what: "the link back", timeoutMs: 10 * RECONNECT_MAX_MS + HEARTBEAT_MS });
    await world.alice.sendText(roomId, "are you back?");
    const msgs = await world.waitBotMessages(roomId, 2, "the answer after the restart");
    expect(msgs[1]?.content["body"]).toMatch(/^answer \d+$/);
    await world.quiet(RUN_START_TIMEOUT_MS / 4);
    expect(world.botMessages(roomId)).toHaveLength(2); // told once, answered once
    printFigure("agent-killed-mid-turn", { killToNoticeMs: noticeMs });
  });

  it("restarted while proactive runs are unacked: the link comes back and every run reaches every room exactly once", async () => {
    let faulty: FaultyStoreAdapter | undefined;
    const world = (s = await Scenario.start({ mode: "client", externalAgent: true,
      overrides: { wrapStoreAdapter: (a) => (faulty = new FaultyStoreAdapter(a)) } }));
    await world.stopBot();
    const rooms = createJoinedRooms(world, 20);
    await seedKnownRooms(world.dataDir, rooms, { optIn: true, syncToken: await currentSyncToken(world) });
    await world.startBot();

    // A slow store keeps the bot from finishing (and acking) the runs before the agent goes away.
    faulty?.delay(RUN_START_TIMEOUT_MS / 4);
    const bodies = Array.from({ length: 10 }, (_, i) => `Proactive digest ${i}`);
    for (const body of bodies) await world.agent?.emitProactive("*", body);
    const unacked = new Set((await world.agentJournal.list()).map((e) => e.runId)).size;
    expect(unacked).toBeGreaterThan(0);

    const upsBefore = linkUps(world);
    await world.restartAgent(async () => {
      faulty?.heal();
      await sleep(RECONNECT_MAX_MS); // down for a moment: the bot retries with backoff meanwhile
    });
    const restartedAt = Date.now();
    await world.hs.waitFor(() => linkUps(world) > upsBefore, { what: "the link back", timeoutMs: 10 * RECONNECT_MAX_MS + HEARTBEAT_MS });
    const upAt = logTime(world.bot.logs, (l) => l.msg === "agent link up", restartedAt) ?? Date.now();

    const complete = (): boolean => bodies.every((b) => bodiesPerRoom(world, rooms, b).every((n) => n >= 1));
    await world.hs.waitFor(complete, { what: "every run in every room", timeoutMs: 10 * RUN_START_TIMEOUT_MS, ...MANY_ROOMS_POLL });
    await world.hs.waitFor(() => world.agentJournal.size() === 0, { what: "every run acked", timeoutMs: 10 * RUN_START_TIMEOUT_MS });
    await world.quiet(RUN_START_TIMEOUT_MS / 4);
    for (const body of bodies) expect(bodiesPerRoom(world, rooms, body)).toEqual(rooms.map(() => 1));
    printFigure("agent-restarted-with-unacked-proactive-runs", {
      runs: bodies.length, rooms: rooms.length, runsReplayed: unacked, reconnectMs: Math.max(0, upAt - restartedAt),
    });
  });

  it("a socket that goes half-open is detected within the pong timeout, replaced, and the next turn is answered", async () => {
    const heartbeatMs = 300;
    const pongTimeoutMs = 200;
    const agent = await startScriptedAgent({
      // A half-open connection: pings, runs and everything else vanish without an answer.
      onFrame: (conn, f) => f.op === "run" && conn.answerPings && conn.answer(String(f.runId), `answered on connection ${agent.conns.indexOf(conn) + 1}`),
    });
    const world = (s = await Scenario.start({ mode: "client",
      env: { AGENT_URL: agent.url, AGENT_HEARTBEAT_MS: String(heartbeatMs), AGENT_PONG_TIMEOUT_MS: String(pongTimeoutMs), ...EVERY_LOG_LINE } }));
    const roomId = await world.openDm();
    const detections: number[] = [];
    for (let cycle = 1; cycle <= 3; cycle++) {
      await world.hs.waitFor(() => agent.conns.at(-1)?.hello !== undefined, { what: `connection ${cycle} up` });
      const conn = agent.latest();
      conn.answerPings = false;
      const silentAt = Date.now();
      await world.alice.sendText(roomId, `are you there? (${cycle})`);
      await world.hs.waitFor(() => conn.ws.readyState === conn.ws.CLOSED,
        { what: "the half-open connection dropped", timeoutMs: 4 * (heartbeatMs + pongTimeoutMs) });
      const detectedAt = logTime(world.bot.logs, (l) => /no pong/.test(l.msg ?? ""), silentAt) ?? Date.now();
      detections.push(detectedAt - silentAt);
      expect(detectedAt - silentAt).toBeLessThanOrEqual(2 * (heartbeatMs + pongTimeoutMs));

      const told = await world.waitBotMessages(roomId, 2 * cycle - 1, "the user told");
      expect(told.at(-1)?.content["body"]).toBe(FAILURE_TEXTS.link_lost);
      await world.hs.waitFor(() => agent.conns.length > agent.conns.indexOf(conn) + 1 && agent.latest().hello !== undefined,
        { what: "a new connection", timeoutMs: 10 * RECONNECT_MAX_MS });
      await world.alice.sendText(roomId, `next (${cycle})`);
      const msgs = await world.waitBotMessages(roomId, 2 * cycle, "the next turn answered");
      expect(msgs.at(-1)?.content["body"]).toBe(`answered on connection ${agent.conns.length}`);
    }
    printFigure("half-open-agent-socket", {
      cycles: detections.length, heartbeatMs, pongTimeoutMs, minDetectionMs: Math.min(...detections), maxDetectionMs: Math.max(...detections),
    });
  });
});
