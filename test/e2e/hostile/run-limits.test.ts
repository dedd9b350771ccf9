// Issue 14, finding 4: agent runs are bounded. 100 threads from two allowed users reach the agent at most
// AGENT_MAX_CONCURRENT_RUNS at once, and at most AGENT_MAX_RUNS_PER_USER of one user (counted by the agent);
// the rest wait their turn, every one is answered, and each waiting user is told once.
import { FAILURE_TEXTS } from "../../../src/turns/failure-text";
import type { AgentBrain } from "../../../src/reference-agent/brain";
import { say } from "../../support/brains";
import { MODES, Scenario } from "../../support/scenario";
import { scaled } from "../../support/wait";

const THREADS = 100;

/** A brain that counts runs in flight (in total and per sender) and holds them until released. */
function countingBrain(): { brain: AgentBrain; peak: () => number; peakPerUser: () => Map<string, number>; inFlight: () => number;
  release: () => void; runs: () => number } {
  let inFlight = 0;
  let peak = 0;
  let runs = 0;
  const perUser = new Map<string, number>();
  const peakPerUser = new Map<string, number>();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const brain: AgentBrain = {
    async run(input, out) {
      const sender = input.messages.at(-1)?.sender ?? "";
      inFlight += 1;
      runs += 1;
      peak = Math.max(peak, inFlight);
      perUser.set(sender, (perUser.get(sender) ?? 0) + 1);
      peakPerUser.set(sender, Math.max(peakPerUser.get(sender) ?? 0, perUser.get(sender) ?? 0));
      try {
        await gate;
        say(out, `answered: ${input.messages.map((m) => m.content).join(" + ")}`);
      } finally {
        inFlight -= 1;
        perUser.set(sender, (perUser.get(sender) ?? 1) - 1);
      }
    },
  };
  return { brain, peak: () => peak, peakPerUser: () => peakPerUser, inFlight: () => inFlight, release, runs: () => runs };
}

describe.each(MODES)("%s mode", (mode) => {
  let s: Scenario;
  afterEach(async () => s?.stop());

  it(`${THREADS} threads reach the agent at most AGENT_MAX_CONCURRENT_RUNS at once, and each waiting user is told once`, async () => {
    const agent = countingBrain();
    s = await Scenario.start({
      mode, brain: agent.brain,
      env: { ALLOWED_USERS: "@alice:localhost,@carol:localhost", AGENT_MAX_CONCURRENT_RUNS: "3", AGENT_MAX_RUNS_PER_USER: "2",
        RUN_IDLE_TIMEOUT_MS: "60000", RUN_DEADLINE_MS: "120000" },
    });
    const carol = s.person("carol", "Carol");
    const bob = s.person("bob", "Bob"); // not allowed: his thread roots are not answered
    const room = await s.openGroup(s.alice, [carol, bob]);
    const roots = Array.from({ length: THREADS }, (_, i) => s.hs.sendEvent(bob.userId, room, "m.room.message", { msgtype: "m.text", body: `topic ${i}` }));
    const mention = `${s.botUserId}:`;
    await Promise.all(roots.map((root, i) => (i % 2 === 0 ? s.alice : carol).sendThreadReply(room, root, `${mention} question ${i}`)));
    // A command after them: once it is answered, every message before it has reached the turn pipeline.
    await s.alice.sendText(room, "!status");
    await s.hs.waitFor(() => s.botMessages(room).some((e) => String(e.content["body"]).includes("Agent link")), { what: "the /status answer", timeoutMs: 30_000 });
    await s.hs.waitFor(() => agent.inFlight() === 3, { what: "the first runs at the agent", timeoutMs: 30_000 });
    agent.release();

    const answers = (): number => s.botMessages(room).filter((e) => String(e.content["body"]).startsWith("answered:")).length;
    await s.hs.waitFor(() => answers() >= THREADS, { what: `${THREADS} answers`, timeoutMs: 60_000, intervalMs: 100 });
    await s.expectSteady(() => {
      expect(answers()).toBe(THREADS);
      expect(agent.runs()).toBe(THREADS);
      expect(agent.peak()).toBe(3);
      expect(Math.max(...agent.peakPerUser().values())).toBe(2);
      const notices = s.botMessages(room).filter((e) => e.content["body"] === FAILURE_TEXTS.waiting);
      const told = notices.map((e) => (e.content["m.mentions"] as { user_ids?: string[] }).user_ids?.[0]).sort();
      expect(told).toEqual([s.alice.userId, carol.userId]);
    });
  }, scaled(120_000));
});
