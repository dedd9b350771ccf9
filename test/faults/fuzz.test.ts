// 10,000 generated Matrix events pushed through the homeserver double into the running bot (appservice
// transactions), and 10,000 generated frames sent to the bot's agent link by a scripted agent. Afterwards a
// normal turn is still answered, nothing crashed (jest-setup fails the test on an unhandled rejection), every
// transaction was acknowledged, and the log stays bounded: a few lines per bad input at most, none of them
// carrying the junk itself.
import fc from "fast-check";
import type { ClientEvent } from "../support/homeserver";
import { Scenario } from "../support/scenario";
import { closeScriptedAgents, startScriptedAgent } from "../support/scripted-agent";
import { rawAgentFrame, rawRoomEvent } from "./fuzz-arbitraries";
import { errorLines, printFigure, timing } from "./support";

const SEED = 20_261_122;
const EVENTS = 10_000;
const FRAMES = 10_000;
const BATCH = 100;
const RUN_DEADLINE_MS = timing("RUN_DEADLINE_MS");
const ANSWER = "still here, and sane";
/** A bound independent of the amount of junk (each bad input is at most one warning). */
const MAX_ERROR_LINES = 10;

describe("fault: generated junk from the homeserver and from the agent", () => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.stop();
    s = undefined;
    await closeScriptedAgents();
  });

  it("10,000 events and 10,000 agent frames later, a normal turn is answered and the log is bounded", async () => {
    const agent = await startScriptedAgent({ onFrame: (conn, f) => f.op === "run" && conn.answer(String(f.runId), ANSWER) });
    const world = (s = await Scenario.start({ mode: "appservice", env: { AGENT_URL: agent.url, LOG_LEVEL: "debug" } }));
    const bob = world.person("bob", "Bob");
    const dm = await world.openDm();
    const group = await world.openGroup(world.alice, [bob]);
    const targets = { roomIds: [dm, group], userIds: [world.alice.userId, bob.userId, world.botUserId], botUserId: world.botUserId };
    const events = fc.sample(rawRoomEvent(targets), { numRuns: EVENTS, seed: SEED });
    const frames = fc.sample(rawAgentFrame, { numRuns: FRAMES, seed: SEED });
    // Sampling kept this process (the bot's too) busy: let the link settle before the flood.
    await world.hs.waitFor(() => agent.latest().hello !== undefined && agent.latest().ws.readyState === agent.latest().ws.OPEN,
      { what: "the agent link up" });
    const connsBefore = agent.conns.length;
    const linesBefore = world.bot.logs.raw.length;
    const startedAt = Date.now();

    const statuses = new Map<number, number>();
    const pushing = (async () => {
      for (let i = 0; i < events.length; i += BATCH) {
        const batch = events.slice(i, i + BATCH) as unknown as ClientEvent[];
        const { status } = await world.hs.pushTransaction("matrix-agent-bot", batch, { txnId: `fuzz-${SEED}-${i}` });
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    })();
    // As a separate agent process would: frames go out in bursts, and the event loop (shared here) gets a turn.
    for (let i = 0; i < frames.length; i += 250) {
      const conn = agent.latest();
      for (const frame of frames.slice(i, i + 250)) conn.raw(frame);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await pushing;
    expect([...statuses.entries()]).toEqual([[200, EVENTS / BATCH]]); // every transaction made durable and acknowledged

    // A newcomer's first message: the bot is still alive on both sides.
    const carol = world.person("carol", "Carol");
    const fresh = await world.openDm(carol);
    await carol.sendText(fresh, "are you still there after all that?");
    const [answer] = await world.hs.waitFor(() => {
      const msgs = world.botMessages(fresh);
      return msgs.length > 0 ? msgs : undefined;
    }, { what: "the normal turn answered", timeoutMs: 2 * RUN_DEADLINE_MS, intervalMs: 50 });
    expect(answer?.content["body"]).toBe(ANSWER);
    const ms = Date.now() - startedAt;

    const lines = world.bot.logs.raw.slice(linesBefore);
    const parsed = world.bot.logs.lines().slice(linesBefore);
    const framesRejected = parsed.filter((l) => l.msg === "agent link: malformed frame rejected").length;
    const errors = errorLines(world.bot.logs);
    const warnings = parsed.filter((l) => l.level === 40).length;
    const longest = Math.max(...lines.map((l) => l.length));
    printFigure("fuzz-10k-events-10k-frames", {
      eventsPushed: events.length, framesSent: frames.length, framesRejected, linkDrops: agent.conns.length - connsBefore, ms,
      logLines: lines.length, warnings, errors: errors.length, longestLogLine: longest,
    });
    // Junk can only claim the bot joined a room the homeserver does not know: its introduction is a dead letter.
    expect(errors.length).toBeLessThanOrEqual(MAX_ERROR_LINES);
    expect(errors.filter((l) => !/dead letter/.test(l.msg ?? ""))).toEqual([]);
    expect(warnings).toBeLessThanOrEqual(events.length + frames.length); // at most one warning per bad input
    expect(longest).toBeLessThan(4096); // no junk content copied into the log
  });
});
