// What an operator sees: /readyz flips when the agent or the homeserver goes away, /metrics counts a turn,
// /metrics and /status report the bot's work in hand and when it is idle, POST /proactive feeds the fan-out, and
// SIGTERM during a turn lets it finish and exits 0.
import type { AgentBrain } from "../../src/reference-agent/brain";
import { FAILURE_TEXTS } from "../../src/turns/failure-text";
import { ChildBot } from "../support/bot-harness";
import { readBotWork, waitForBotIdle } from "../support/bot-idle";
import { gatedBrain } from "../support/brains";
import { Scenario } from "../support/scenario";
import { waitFor } from "../support/wait";

async function get(port: number | undefined, path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, text: await res.text() };
}

describe("operations", () => {
  let s: Scenario;
  const children: ChildBot[] = [];
  afterEach(async () => {
    for (const c of children.splice(0)) await c.stop();
    await s?.stop();
  });

  async function startChild(): Promise<ChildBot> {
    const child = new ChildBot(s.botEnv);
    children.push(child);
    return child.ready();
  }

  /**
   * A DM with the bot, now running as a child process with SHUTDOWN_GRACE_MS `graceMs`; `text` starts a turn of
   * `brain` and the bot gets SIGTERM while it runs: it must exit 0. Returns the DM.
   */
  async function sigtermDuringTurn(brain: AgentBrain, graceMs: string, text: string): Promise<string> {
    s = await Scenario.start({ mode: "client", brain, env: { SHUTDOWN_GRACE_MS: graceMs } });
    const dm = await s.openDm();
    await s.stopBot();
    const child = await startChild();
    await s.alice.sendText(dm, text);
    await s.hs.waitFor(() => s.hs.typing.some((t) => t.roomId === dm && t.typing), { what: "the turn started" });
    child.kill("SIGTERM");
    expect(await child.exited).toEqual({ code: 0, signal: null });
    return dm;
  }

  /** /readyz until it stops answering 200, then its last answer. */
  async function readyzAfterFailure(port: number | undefined): Promise<{ status: number; text: string }> {
    return waitFor(async () => {
      const after = await get(port, "/readyz");
      return after.status !== 200 && after;
    }, { what: "/readyz to stop answering 200", intervalMs: 50 });
  }

  it("/readyz is ready, then names the agent when it goes away", async () => {
    s = await Scenario.start({ mode: "client", externalAgent: true });
    const port = s.bot.app.httpPort;
    expect((await get(port, "/healthz")).status).toBe(200);
    const ready = await get(port, "/readyz");
    expect(ready.status).toBe(200);
    await s.agent?.close();
    const after = await readyzAfterFailure(port);
    expect(after.status).toBe(503);
    expect(JSON.parse(after.text).notReady).toContain("agent");
  });

  it("/readyz names the homeserver when it stops answering", async () => {
    s = await Scenario.start({ mode: "client", env: { HOMESERVER_STALE_MS: "300" } });
    const port = s.bot.app.httpPort;
    expect((await get(port, "/readyz")).status).toBe(200);
    s.hs.failNext({ userId: s.botUserId }, { dropConnection: true }, 1_000_000);
    const after = await readyzAfterFailure(port);
    expect(after.status).toBe(503);
    expect(JSON.parse(after.text).notReady).toContain("homeserver");
    s.hs.clearFaults();
  });

  it("/metrics is Prometheus text and counts a turn", async () => {
    s = await Scenario.start({ mode: "client" });
    const dm = await s.openDm();
    await s.alice.sendText(dm, "count me");
    await s.waitBotMessages(dm, 1);
    // The turn is counted when it ends (typing off), just after its answer is visible: the bot is idle then.
    await waitForBotIdle(s.bot.app);
    const m = await get(s.bot.app.httpPort, "/metrics");
    const metrics = { ...m, turns: Number(/^matrix_agent_bot_turns_total\{outcome="ok"\} (\d+)/m.exec(m.text)?.[1] ?? 0) };
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/^# HELP /m);
    expect(metrics.turns).toBe(1);
  });

  it("/metrics reports idle and the work in flight by kind, and /status shows the same", async () => {
    const { brain, seen, release } = gatedBrain();
    s = await Scenario.start({ mode: "client", brain });
    const dm = await s.openDm();
    await waitForBotIdle(s.bot.app);
    expect(await readBotWork(s.bot.app)).toEqual({ idle: true, work: { router: 0, turns: 0, outbox: 0 } });
    await s.alice.sendText(dm, "hold on");
    await s.hs.waitFor(() => seen.length === 1, { what: "the run started" });
    await s.alice.sendText(dm, "and this too");
    await s.routed((work) => work["turns"] === 2); // the run in flight and the message queued behind it
    expect(await readBotWork(s.bot.app)).toEqual({ idle: false, work: { router: 0, turns: 2, outbox: 0 } });
    await s.alice.sendText(dm, "!status");
    const [status] = await s.waitBotMessages(dm, 1, "the /status answer");
    expect(String(status?.content["body"])).toContain(
      "Whole bot: 1 room event being handled (this command included), 2 agent turns running or queued, 0 messages on the way out.");
    release();
    await s.waitBotMessages(dm, 3, "both answers");
    await waitForBotIdle(s.bot.app);
    expect(await readBotWork(s.bot.app)).toEqual({ idle: true, work: { router: 0, turns: 0, outbox: 0 } });
  });

  it("POST /proactive: 401 without the token, 400 with the reason, 202 and delivered when right", async () => {
    s = await Scenario.start({ mode: "client", env: { PROACTIVE_TOKEN: "push-secret-token" } });
    const dm = await s.openDm();
    await s.alice.sendText(dm, "!proactive on");
    await s.waitBotMessages(dm, 1);
    const url = `http://127.0.0.1:${s.bot.app.httpPort}/proactive`;
    const post = (body: unknown, token?: string) => fetch(url, { method: "POST", body: JSON.stringify(body),
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) } });
    expect((await post({ messages: ["x"] }, "wrong")).status).toBe(401);
    const bad = await post({ messages: [] }, "push-secret-token");
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/messages/);
    const ok = await post({ messages: ["Pushed from outside"], id: "push-1" }, "push-secret-token");
    expect(ok.status).toBe(202);
    await post({ messages: ["Pushed from outside"], id: "push-1" }, "push-secret-token"); // same id: delivered once
    const msgs = await s.waitBotMessages(dm, 2);
    await s.expectSteady(() => expect(s.botMessages(dm).filter((e) => e.content["body"] === "Pushed from outside")).toHaveLength(1));
    expect(msgs[1]?.content["body"]).toBe("Pushed from outside");
  });

  it("SIGTERM during a turn lets it finish, then exits 0", async () => {
    const brain: AgentBrain = { async run(_input, out) {
      await new Promise((r) => setTimeout(r, 700));
      const id = out.startMessage(); out.delta(id, "finished before stopping"); out.endMessage(id);
    } };
    const dm = await sigtermDuringTurn(brain, "5000", "take your time");
    expect(s.botMessages(dm).map((e) => e.content["body"])).toContain("finished before stopping");
  });

  it("a turn still running after SHUTDOWN_GRACE_MS: the room is told, and the restarted bot answers it", async () => {
    let slow = true;
    const brain: AgentBrain = { async run(_input, out, signal) {
      if (slow) await new Promise((r) => { const t = setTimeout(r, 5000); signal.addEventListener("abort", () => { clearTimeout(t); r(undefined); }); });
      const id = out.startMessage(); out.delta(id, "the real answer"); out.endMessage(id);
    } };
    const dm = await sigtermDuringTurn(brain, "300", "a hard question");
    expect(s.botMessages(dm).map((e) => e.content["body"])).toEqual([FAILURE_TEXTS.shutdown]);

    slow = false;
    await startChild();
    const msgs = await s.waitBotMessages(dm, 2, "the answer after the restart");
    expect(msgs[1]?.content["body"]).toBe("the real answer");
  });
});
