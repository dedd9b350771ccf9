// The link to the agent over real sockets: a half-open connection is detected and replaced, an agent restart
// is ridden out (a turn sent while it is down is answered once it is back), and an agent-initiated run that
// the agent replays after a reconnect or a restart is delivered once. Client mode for the bot tests.
//
// Agent-initiated runs are shown twice: in a room (the bot's fan-out, with an agent whose journal can lose
// acks), and at the link level (AgentLink against the real reference agent) where the timing of a replay
// during handling can be controlled.
import pino from "pino";
import { AgentLink, type PersistedSession } from "../../src/agent/link";
import { MemoryAgentJournal, startReferenceAgent, type ReferenceAgent } from "../../src/reference-agent/server";
import { FAILURE_TEXTS } from "../../src/turns/failure-text";
import { recordingBrain, say } from "../support/brains";
import { Scenario } from "../support/scenario";
import { closeScriptedAgents, startScriptedAgent } from "../support/scripted-agent";
import { waitFor as waitUntil } from "../support/wait";

const silent = pino({ level: "silent" });

/** A journal whose removals (what an ack causes) can be lost, as if the agent crashed before writing them. */
class LossyJournal extends MemoryAgentJournal {
  loseRemovals = false;
  /** Removals asked for (acks received) and lost. */
  lost = 0;
  override async remove(ids: readonly string[]): Promise<void> {
    if (!this.loseRemovals) await super.remove(ids);
    else this.lost += 1;
  }
}

describe("the bot's agent link", () => {
  let s: Scenario;
  afterEach(async () => {
    await s?.stop();
    await closeScriptedAgents();
  });

  it("drops a half-open connection (no pong), reconnects, and answers the next turn", async () => {
    const agent = await startScriptedAgent({
      autoPong: (connIndex) => connIndex > 0, // the first connection goes half-open
      onFrame: (conn, f) => f.op === "run" && conn.answer(String(f.runId), `answered on connection ${agent.conns.indexOf(conn) + 1}`),
    });
    s = await Scenario.start({ mode: "client", env: { AGENT_URL: agent.url, AGENT_HEARTBEAT_MS: "50", AGENT_PONG_TIMEOUT_MS: "50" } });
    await s.bot.logs.waitFor((l) => /no pong/.test(l.msg ?? ""), "the missing pong noticed");
    await s.hs.waitFor(() => agent.conns.length >= 2 && agent.conns[0]?.ws.readyState === agent.conns[0]?.ws.CLOSED,
      { what: "the half-open connection dropped and replaced" });
    const roomId = await s.openDm();
    await s.alice.sendText(roomId, "are you still there?");
    const [answer] = await s.waitBotMessages(roomId, 1);
    expect(answer?.content["body"]).toMatch(/^answered on connection [2-9]/);
    expect(agent.runs()).toHaveLength(1);
  });

  it("never resends a user run on the new connection after the old one died mid-run", async () => {
    const agent = await startScriptedAgent({
      onFrame: (conn, f) => {
        if (f.op !== "run") return;
        if (agent.conns.indexOf(conn) === 0) {
          conn.event(String(f.runId), { type: "RUN_STARTED" });
          setTimeout(() => conn.ws.terminate(), 20);
        } else conn.answer(String(f.runId), "fresh answer");
      },
    });
    s = await Scenario.start({ mode: "client", env: { AGENT_URL: agent.url } });
    const roomId = await s.openDm();
    const first = await s.alice.sendText(roomId, "doomed");
    const [told] = await s.waitBotMessages(roomId, 1);
    expect(told?.content["body"]).toBe(FAILURE_TEXTS.link_lost);
    await s.hs.waitFor(() => agent.conns.length >= 2 && agent.latest().hello !== undefined, { what: "a new connection" });
    await s.bot.logs.waitFor((l) => l.msg === "agent link up" && s.bot.logs.lines().filter((m) => m.msg === "agent link up").length >= 2,
      "the link up again on the new connection");
    await s.expectSteady(() => expect(agent.runs().map((r) => r.runId)).toEqual([first]));
    const second = await s.alice.sendText(roomId, "next");
    const msgs = await s.waitBotMessages(roomId, 2);
    expect(msgs[1]?.content["body"]).toBe("fresh answer");
    expect(agent.runs().map((r) => r.runId)).toEqual([first, second]);
  });

  it("rides out an agent restart: a turn sent while it is down is answered once it is back", async () => {
    const { brain, seen } = recordingBrain((run, out) => say(out, `echo: ${run.contents.join(" ")}`));
    s = await Scenario.start({ mode: "client", brain });
    const roomId = await s.openDm();
    await s.alice.sendText(roomId, "before");
    await s.waitBotMessages(roomId, 1);
    await s.restartAgent(async () => {
      await s.alice.sendText(roomId, "while down");
      await s.hs.waitFor(() => s.hs.syncCaughtUp(s.botUserId), { what: "the bot has the message while the agent is down" });
    });
    await s.waitBotMessages(roomId, 2);
    await s.alice.sendText(roomId, "after");
    const msgs = await s.waitBotMessages(roomId, 3);
    expect(msgs.map((m) => m.content["body"])).toEqual(["echo: before", "echo: while down", "echo: after"]);
    expect(seen.map((r) => r.contents)).toEqual([["before"], ["while down"], ["after"]]);
    expect(s.bot.logs.lines().filter((l) => l.msg === "agent link up").length).toBeGreaterThanOrEqual(2);
  });
});

describe("agent-initiated runs replayed to the bot (client mode)", () => {
  let s: Scenario;
  let agent: ReferenceAgent;
  const token = "e2e-agent-token-0123456789abcdef";
  const journal = new LossyJournal();
  const restartAgent = async (): Promise<void> => {
    const port = agent.port;
    await agent.close();
    agent = await startReferenceAgent({ host: "127.0.0.1", port, token, logger: silent, journal });
  };
  const copies = (roomId: string, body: string): number => s.botMessages(roomId).filter((e) => e.content["body"] === body).length;
  afterEach(async () => {
    await s?.stop();
    await agent?.close();
  });

  it("posts a run once although the agent replays it after a restart, and again after the bot restarted too", async () => {
    agent = await startReferenceAgent({ host: "127.0.0.1", port: 0, token, logger: silent, journal });
    s = await Scenario.start({ mode: "client", env: { AGENT_URL: agent.url, AGENT_TOKEN: token } });
    const roomId = await s.openDm();
    await s.alice.sendText(roomId, "!proactive on");
    await s.waitBotMessages(roomId, 1, "the opt-in confirmation");

    journal.loseRemovals = true; // the agent will "forget" the bot's ack
    await agent.emitProactive("*", "Digest one");
    await s.hs.waitFor(() => copies(roomId, "Digest one") === 1, { what: "the digest posted" });
    await s.hs.waitFor(() => journal.lost > 0, { what: "the bot's ack received (and lost)" });
    journal.loseRemovals = false;
    await restartAgent(); // replays the run it still has to a bot that already posted it
    await s.hs.waitFor(() => journal.size() === 0, { what: "the replay acked" });
    await s.expectSteady(() => expect(copies(roomId, "Digest one")).toBe(1));

    journal.loseRemovals = true;
    const lostBefore = journal.lost;
    await agent.emitProactive("*", "Digest two");
    await s.hs.waitFor(() => copies(roomId, "Digest two") === 1, { what: "the second digest posted" });
    await s.hs.waitFor(() => journal.lost > lostBefore, { what: "the bot's second ack received (and lost)" });
    await s.stopBot(); // a new bot process remembers nothing in memory: only its store
    journal.loseRemovals = false;
    await restartAgent();
    await s.startBot();
    await s.hs.waitFor(() => journal.size() === 0, { what: "the replay to the new bot acked" });
    await s.expectSteady(() => expect(copies(roomId, "Digest two")).toBe(1));
  });
});

describe("agent-initiated runs across reconnects and agent restarts (link level)", () => {
  const token = "link-test-token-0123456789";
  const journal = new LossyJournal();
  let agent: ReferenceAgent;
  let link: AgentLink;
  const delivered: string[] = [];
  let release!: () => void;
  const handling = new Promise<void>((r) => (release = r));

  const restartAgent = async (): Promise<void> => {
    const port = agent.port;
    await agent.close();
    agent = await startReferenceAgent({ host: "127.0.0.1", port, token, logger: silent, journal });
  };
  const waitFor = async (cond: () => boolean, what: string): Promise<void> => void (await waitUntil(cond, { what }));
  /** A user run through the link: its answer comes after every frame the agent sent before it (one socket, in order). */
  let barriers = 0;
  const barrier = async (): Promise<void> => {
    barriers += 1;
    const runId = `barrier-${barriers}`;
    const result = await link.run({ threadId: runId, runId, input: {
      messages: [{ id: `$${runId}`, role: "user", content: "barrier", sender: "@alice:example.org" }],
      context: { roomId: "!room:example.org", isDirect: true } } }, { onTextMessage: () => undefined });
    expect(result).toEqual({ ok: true });
  };

  beforeAll(async () => {
    agent = await startReferenceAgent({ host: "127.0.0.1", port: 0, token, logger: silent, journal });
    let session: PersistedSession | undefined;
    link = new AgentLink({
      url: agent.url, token, logger: silent, clientName: "matrix-agent-bot/test",
      sessionStore: { load: async () => session, save: async (next) => void (session = next) },
      heartbeatMs: 1_000, pongTimeoutMs: 500, reconnectBaseMs: 10, reconnectMaxMs: 100, reconnectResetMs: 500,
      maxFrameBytes: 1024 * 1024, runStartTimeoutMs: 2_000, runIdleTimeoutMs: 2_000, runDeadlineMs: 5_000, connectTimeoutMs: 1_000,
    });
    link.onAgentInitiated(async (run) => {
      delivered.push(run.runId);
      await handling;
      return "handled";
    });
    await link.start();
  });
  afterAll(async () => {
    release();
    await link.stop();
    await agent.close();
  });

  it("a run replayed after the agent restarted while the bot was still handling it is delivered once", async () => {
    const { runId } = await agent.emitProactive("*", "digest one");
    await waitFor(() => delivered.length === 1, "the run delivered");
    await restartAgent(); // nothing was acked yet: the new agent replays the run from its journal
    await waitFor(() => link.state() === "up" && agent.connections() === 1, "the link back up");
    await barrier(); // the replay (sent right after ready) reached the link while the handler still holds the run
    release();
    // Only an ack on the new agent's session can empty its journal: the replay arrived and was acked.
    await waitFor(() => journal.size() === 0, "the replay acked");
    expect(delivered).toEqual([runId]);
  });

  it("a run replayed because its ack was lost is acked again, not delivered twice", async () => {
    journal.loseRemovals = true;
    const acksBefore = link.stats().acksSent;
    const { runId } = await agent.emitProactive("*", "digest two");
    await waitFor(() => delivered.includes(runId) && link.stats().acksSent > acksBefore, "delivered and acked");
    expect(journal.size()).toBeGreaterThan(0); // the agent "forgot" the ack
    journal.loseRemovals = false;
    await restartAgent();
    await waitFor(() => journal.size() === 0, "the replay acked again");
    expect(delivered.filter((id) => id === runId)).toHaveLength(1);
  });
});
