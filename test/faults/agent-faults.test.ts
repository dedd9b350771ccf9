// Faults on the agent side of the bot (client mode): the agent process SIGKILLed in the middle of a turn, the
// agent restarted while agent-initiated (proactive) runs are still unacked, and a socket that goes half-open
// again and again. The reliability targets are asserted with production timings: told within 2 s of the kill;
// after an outage of at most 1 s, the link up within 5 s of the agent accepting connections (a longer outage
// prints the backoff ceiling it met). Waits for what must happen have generous deadlines; the figures are measured.
import { randomBytes } from "node:crypto";
import { freePort, makeDataDir, removeDir } from "../support/bot-harness";
import { startFakeOpenAI, type FakeOpenAI } from "../support/fake-openai";
import { createJoinedRooms, MANY_ROOMS_POLL } from "../support/fanout-world";
import { FaultyStoreAdapter } from "../support/faulty-store";
import { Scenario } from "../support/scenario";
import type { ClientEvent } from "../support/homeserver";
import { closeScriptedAgents, startScriptedAgent, type ScriptedConn } from "../support/scripted-agent";
import { FAILURE_TEXTS } from "../../src/turns/failure-text";
import {
  AgentProcess, bodiesPerRoom, currentSyncToken, duplicatesIn, EVERY_LOG_LINE, logTime, printFigure, productionTimings, seedKnownRooms, sleep,
  timeOf, timing,
} from "./support";

const RUN_START_TIMEOUT_MS = timing("RUN_START_TIMEOUT_MS");
/** Targets (issue 18): the user told within 2 s of the agent's death; the link up within 5 s of the agent accepting
 *  connections again after an outage of at most 1 s. */
const TOLD_WITHIN_MS = 2_000;
const SHORT_OUTAGE_MS = 1_000;
const LINK_BACK_WITHIN_MS = 5_000;
/** Deadlines of the waits themselves: generous (a busy machine), the targets are asserted on the measures. */
const DEADLINE_MS = 60_000;
const RECONNECT_SETTINGS = ["AGENT_RECONNECT_BASE_MS", "AGENT_RECONNECT_MAX_MS", "AGENT_RECONNECT_RESET_MS"];

/** The bot's messages in a room once there are at least `count` (a generous deadline: the figure is what counts). */
const botMessagesAtLeast = (s: Scenario, roomId: string, count: number, what: string): Promise<ClientEvent[]> =>
  s.hs.waitFor(() => {
    const sent = s.botMessages(roomId);
    return sent.length >= count ? sent : undefined;
  }, { what, timeoutMs: DEADLINE_MS });

const linkUps = (s: Scenario): number => s.bot.logs.lines().filter((l) => l.msg === "agent link up").length;

/** The longest reconnect delay the bot drew since `after` (its backoff ceiling in that outage, as met). */
const longestReconnectDelay = (s: Scenario, after: number): number => Math.max(0, ...s.bot.logs.lines()
  .filter((l) => typeof l["delayMs"] === "number" && (timeOf(l) ?? 0) >= after).map((l) => Number(l["delayMs"])));

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

  it("killed (SIGKILL) mid-turn: the user is told within 2 s (production timeouts), and the next turn after it is back is answered", async () => {
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
      return agent.ready(DEADLINE_MS);
    };
    const agent = await startAgent();
    const world = (s = await Scenario.start({ mode: "client", env: { ...productionTimings(), ...EVERY_LOG_LINE, AGENT_URL: `ws://127.0.0.1:${port}`,
      AGENT_TOKEN: token } }));
    for (const a of agents) a.otherSecrets.push(...world.secretValues);
    const roomId = await world.openDm();

    await world.alice.sendText(roomId, "tell me a very long story");
    await world.hs.waitFor(() => llm?.requests.length === 1, { what: "the turn reached the model", timeoutMs: DEADLINE_MS });
    const killedAt = Date.now();
    agent.kill("SIGKILL");
    expect((await agent.exited).signal).toBe("SIGKILL");
    const [notice] = await botMessagesAtLeast(world, roomId, 1, "the user told");
    expect(notice?.content).toMatchObject({ msgtype: "m.notice", body: FAILURE_TEXTS.link_lost });
    const killToNoticeMs = (notice?.origin_server_ts ?? Number.POSITIVE_INFINITY) - killedAt;

    // The agent's new process is up when it logs that it listens: the outage is the time since the kill.
    const upsBefore = linkUps(world);
    const restarted = await startAgent();
    restarted.otherSecrets.push(...world.secretValues);
    const acceptingAt = logTime(restarted.logs, (l) => l.msg === "reference agent ready") ?? Date.now();
    await world.hs.waitFor(() => linkUps(world) > upsBefore, { what: "the link back", timeoutMs: DEADLINE_MS });
    const upAt = logTime(world.bot.logs, (l) => l.msg === "agent link up", acceptingAt) ?? Date.now();
    const outageMs = acceptingAt - killedAt;
    const linkBackMs = Math.max(0, upAt - acceptingAt);
    await world.alice.sendText(roomId, "are you back?");
    const msgs = await botMessagesAtLeast(world, roomId, 2, "the answer after the restart");
    expect(msgs[1]?.content["body"]).toMatch(/^answer \d+$/);
    await world.quiet(RUN_START_TIMEOUT_MS / 4);
    expect(world.botMessages(roomId)).toHaveLength(2); // told once, answered once
    printFigure("agent-killed-mid-turn", {
      killToNoticeMs, toldWithinMs: TOLD_WITHIN_MS, outageMs, linkBackMs, backoffCeilingMs: longestReconnectDelay(world, killedAt),
    });
    expect(killToNoticeMs).toBeLessThanOrEqual(TOLD_WITHIN_MS);
    if (outageMs <= SHORT_OUTAGE_MS) expect(linkBackMs).toBeLessThanOrEqual(LINK_BACK_WITHIN_MS);
  });

  it("back after a 1 s outage with runs unacked: the link is up within 5 s (production reconnect settings), every run in every room once", async () => {
    let faulty: FaultyStoreAdapter | undefined;
    const world = (s = await Scenario.start({ mode: "client", externalAgent: true, env: { ...productionTimings(RECONNECT_SETTINGS), ...EVERY_LOG_LINE },
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
    let downAt = 0;
    await world.restartAgent(async () => {
      downAt = Date.now();
      faulty?.heal();
      await sleep(SHORT_OUTAGE_MS - 100); // down for (at most) a second: the bot retries with its backoff meanwhile
    });
    const acceptingAt = Date.now(); // restartAgent resolves once the new agent listens
    await world.hs.waitFor(() => linkUps(world) > upsBefore, { what: "the link back", timeoutMs: DEADLINE_MS });
    const upAt = logTime(world.bot.logs, (l) => l.msg === "agent link up", acceptingAt) ?? Date.now();
    const linkBackMs = Math.max(0, upAt - acceptingAt);

    const complete = (): boolean => bodies.every((b) => bodiesPerRoom(world, rooms, b).every((n) => n >= 1));
    await world.hs.waitFor(complete, { what: "every run in every room", timeoutMs: DEADLINE_MS, ...MANY_ROOMS_POLL });
    await world.hs.waitFor(() => world.agentJournal.size() === 0, { what: "every run acked", timeoutMs: DEADLINE_MS });
    await world.quiet(RUN_START_TIMEOUT_MS / 4);
    const duplicates = duplicatesIn(bodies.flatMap((b) => bodiesPerRoom(world, rooms, b)));
    printFigure("agent-restarted-with-unacked-proactive-runs", {
      runs: bodies.length, rooms: rooms.length, runsReplayed: unacked, outageMs: acceptingAt - downAt, linkBackMs,
      linkBackWithinMs: LINK_BACK_WITHIN_MS, backoffCeilingMs: longestReconnectDelay(world, downAt), duplicates,
    });
    expect(linkBackMs).toBeLessThanOrEqual(LINK_BACK_WITHIN_MS);
    expect(duplicates).toBe(0);
    for (const body of bodies) expect(bodiesPerRoom(world, rooms, body)).toEqual(rooms.map(() => 1));
  });

  it("a socket that goes half-open is detected within the pong timeout, replaced, and the next turn is answered", async () => {
    const heartbeatMs = 300;
    const pongTimeoutMs = 200;
    // A connection going half-open: its run is never answered, then its pings neither (everything vanishes).
    const holding = new Set<ScriptedConn>();
    const agent = await startScriptedAgent({
      onFrame: (conn, f) => f.op === "run" && !holding.has(conn) && conn.answer(String(f.runId), `answered on connection ${agent.conns.indexOf(conn) + 1}`),
    });
    const world = (s = await Scenario.start({ mode: "client",
      env: { AGENT_URL: agent.url, AGENT_HEARTBEAT_MS: String(heartbeatMs), AGENT_PONG_TIMEOUT_MS: String(pongTimeoutMs), ...EVERY_LOG_LINE } }));
    const roomId = await world.openDm();
    const detections: number[] = [];
    for (let cycle = 1; cycle <= 3; cycle++) {
      await world.hs.waitFor(() => agent.conns.at(-1)?.hello !== undefined, { what: `connection ${cycle} up`, timeoutMs: DEADLINE_MS });
      const conn = agent.latest();
      holding.add(conn);
      const runs = (): number => conn.frames.filter((f) => f.op === "run").length;
      const runsBefore = runs();
      await world.alice.sendText(roomId, `are you there? (${cycle})`);
      // The turn is in flight on this connection before it goes silent (on a busy machine the message may take
      // longer to arrive than the link takes to notice the silence; the run would then go to the next connection).
      await world.hs.waitFor(() => runs() > runsBefore, { what: "the run on the connection", timeoutMs: DEADLINE_MS });
      conn.answerPings = false;
      const silentAt = Date.now();
      await world.hs.waitFor(() => conn.ws.readyState === conn.ws.CLOSED, { what: "the half-open connection dropped", timeoutMs: DEADLINE_MS });
      const detectedAt = logTime(world.bot.logs, (l) => /no pong/.test(l.msg ?? ""), silentAt) ?? Date.now();
      detections.push(detectedAt - silentAt);

      const told = await botMessagesAtLeast(world, roomId, 2 * cycle - 1, "the user told");
      expect(told.at(-1)?.content["body"]).toBe(FAILURE_TEXTS.link_lost);
      await world.hs.waitFor(() => agent.conns.length > agent.conns.indexOf(conn) + 1 && agent.latest().hello !== undefined,
        { what: "a new connection", timeoutMs: DEADLINE_MS });
      await world.alice.sendText(roomId, `next (${cycle})`);
      const msgs = await botMessagesAtLeast(world, roomId, 2 * cycle, "the next turn answered");
      expect(msgs.at(-1)?.content["body"]).toBe(`answered on connection ${agent.conns.length}`);
    }
    printFigure("half-open-agent-socket", {
      cycles: detections.length, heartbeatMs, pongTimeoutMs, minDetectionMs: Math.min(...detections), maxDetectionMs: Math.max(...detections),
    });
    expect(Math.max(...detections)).toBeLessThanOrEqual(2 * (heartbeatMs + pongTimeoutMs));
  });
});
