// Usage and budgets end to end, against the homeserver double with a scripted v2 agent that reports usage[] on each
// RUN_FINISHED: the tokens are summed and shown by /usage; a daily limit refuses the next run with the time it
// resets, and the next UTC day (an injected clock) runs again; /metrics counts per agent only; and the counts
// survive a SIGKILL of the bot process (the built bot as a child process, its clock set by MAB_TEST_NOW).
import { FAILURE_TEXTS } from "../../src/turns/failure-text";
import { botMessagesIn } from "../support/bot-messages";
import { waitForBotSettled } from "../support/bot-idle";
import { CrashWorld } from "../support/crash-world";
import type { Homeserver } from "../support/homeserver";
import { MatrixTestUser } from "../support/matrix-test-user";
import { Scenario } from "../support/scenario";
import { closeScriptedAgents, startScriptedAgent, type ScriptedAgent } from "../support/scripted-agent";
import { scaled } from "../support/wait";

jest.setTimeout(scaled(90_000));

/** A v2 agent answering each run "answer N" and reporting `usage` for it. */
function usageAgent(usage: Array<Record<string, unknown>>): Promise<ScriptedAgent> {
  let n = 0;
  return startScriptedAgent({
    protocol: 2,
    onFrame: (c, f) => {
      if (f.op !== "run") return;
      const runId = String(f.runId);
      const names = { threadId: c.threadOf(runId), runId };
      n += 1;
      c.event(runId, { type: "RUN_STARTED", ...names });
      c.event(runId, { type: "TEXT_MESSAGE_START", messageId: "m", role: "assistant" });
      c.event(runId, { type: "TEXT_MESSAGE_CONTENT", messageId: "m", delta: `answer ${n}` });
      c.event(runId, { type: "TEXT_MESSAGE_END", messageId: "m" });
      c.event(runId, { type: "RUN_FINISHED", ...names, usage });
    },
  });
}

/** The bodies of the bot's messages in the room (answers and notices), as a person reads them. */
const bodies = (hs: Homeserver, roomId: string, botUserId: string): string[] =>
  botMessagesIn(hs, roomId, botUserId).map((e) => String(e.content["body"]));

async function say(hs: Homeserver, person: MatrixTestUser, roomId: string, botUserId: string, text: string): Promise<string> {
  const before = bodies(hs, roomId, botUserId).length;
  await person.sendText(roomId, text);
  return hs.waitFor(() => bodies(hs, roomId, botUserId)[before], { what: `the bot's reply to "${text}"`, timeoutMs: scaled(30_000) });
}

describe("usage and budgets", () => {
  afterEach(() => closeScriptedAgents());

  describe("in-process bot, injected clock", () => {
    let s: Scenario | undefined;
    afterEach(async () => {
      await s?.stop();
      s = undefined;
    });

    it("sums usage[] per room and person, refuses the run over a limit saying when it resets, runs again the next UTC day; /metrics per agent only", async () => {
      const agent = await usageAgent([{ provider: "openai", model: "m", inputTokens: 50, outputTokens: 10, totalTokens: 60 }]);
      let now = Date.parse("2026-03-01T21:30:00Z");
      s = await Scenario.start({ mode: "client", env: { AGENT_URL: agent.url, USAGE_LIMIT_TOKENS_PER_USER_DAY: "100" },
        overrides: { clock: () => now } });
      const w = s;
      const roomId = await w.openDm();
      const ask = (text: string) => say(w.hs, w.alice, roomId, w.botUserId, text);

      expect(await ask("one")).toBe("answer 1");
      await w.settled(); // the answer is posted as it comes; the run's usage is counted at its end
      expect((await ask("/usage")).split("\n")[0]).toBe("This room today (2026-03-01, UTC): 60 tokens (50 in, 10 out) in 1 run.");
      expect(await ask("two")).toBe("answer 2"); // 120 now: a run under the limit may end above it
      expect(await ask("three")).toBe(`${FAILURE_TEXTS.usage_limit} You have used 120 of 100 tokens today; `
        + "the limit resets at midnight UTC, in 2 hours and 30 minutes.");
      expect(agent.runs()).toHaveLength(2); // the refused run never reached the agent

      now = Date.parse("2026-03-02T00:05:00Z");
      expect(await ask("four")).toBe("answer 3");
      await w.settled();
      expect((await ask("!usage")).split("\n")).toEqual(expect.arrayContaining([
        "This room today (2026-03-02, UTC): 60 tokens (50 in, 10 out) in 1 run.",
        "Earlier days here: 2026-03-01: 120.",
      ]));

      const metrics = await (await fetch(`http://127.0.0.1:${w.bot.app.httpPort}/metrics`)).text();
      const tokenLines = metrics.split("\n").filter((l) => l.startsWith("matrix_agent_bot_agent_tokens_total"));
      expect(tokenLines).toEqual([
        'matrix_agent_bot_agent_tokens_total{agent="default",direction="input"} 150',
        'matrix_agent_bot_agent_tokens_total{agent="default",direction="output"} 30',
      ]);
      expect(metrics).not.toContain(roomId);
      expect(metrics).not.toContain(w.alice.userId);
    });
  });

  describe("the bot as a child process", () => {
    const world = CrashWorld.use();

    it("counts survive a SIGKILL: after the restart the room's limit still refuses, and /usage still shows them", async () => {
      const { hs } = world;
      const agent = await usageAgent([{ inputTokens: 100, outputTokens: 20 }]);
      const { env, botUserId, inbound } = await world.setUp("client",
        { AGENT_URL: agent.url, USAGE_LIMIT_TOKENS_PER_ROOM_DAY: "100", MAB_TEST_NOW: "2026-03-01T12:00:00Z" });
      const first = await world.startBot(env);
      const alice = new MatrixTestUser(hs.url, hs.addUser("alice", { displayName: "Alice" }));
      const { room_id: roomId } = await alice.createRoom({ is_direct: true, invite: [botUserId], preset: "trusted_private_chat" });
      await hs.waitFor(() => hs.membership(roomId, botUserId) === "join", { what: "the bot joins" });
      expect(await say(hs, alice, roomId, botUserId, "one")).toBe("answer 1");
      await waitForBotSettled(hs, inbound, first);

      first.kill("SIGKILL");
      expect(await first.exited).toEqual({ code: null, signal: "SIGKILL" });
      const second = await world.startBot(env);
      expect(await say(hs, alice, roomId, botUserId, "two")).toMatch(/^⛔ .* This room has used 120 of 100 tokens today; the limit resets at midnight UTC, in 1[12] hours/);
      expect((await say(hs, alice, roomId, botUserId, "/usage")).split("\n")[0])
        .toBe("This room today (2026-03-01, UTC): 120 tokens (100 in, 20 out) in 1 run.");
      expect(agent.runs()).toHaveLength(1);
      await waitForBotSettled(hs, inbound, second);
    });
  });
});
