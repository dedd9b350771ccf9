// 10,000 generated Matrix events pushed through the homeserver double into the running bot (appservice
// transactions), and 10,000 generated frames (v1 words and every AG-UI 1.0 event type) sent to the bot's agent link
// by a scripted agent speaking protocol v2; then, in client
// mode, generated events stored in a room's timeline as a homeserver accepts them from clients (any type, any
// object as content) and synced by the bot. Afterwards a normal turn is still answered, nothing crashed
// and no unhandled rejection or uncaught exception (counted while the junk goes in, asserted 0; jest-setup also
// fails any test they happen in), every transaction was acknowledged, and the log stays bounded: at most one
// warning per bad input, a few errors in all, none carrying the junk itself.
import fc from "fast-check";
import { MatrixHttpError, type ClientEvent } from "../support/homeserver";
import { Scenario } from "../support/scenario";
import { waitWhileProgressing } from "../support/wait";
import { closeScriptedAgents, startScriptedAgent } from "../support/scripted-agent";
import { rawAgentFrame, rawRoomEvent } from "./fuzz-arbitraries";
import { openRows } from "../support/store-rows";
import { errorLines, EVERY_LOG_LINE, printFigure, sleep, timing } from "./support";

const SEED = 20_261_122;
const EVENTS = 10_000;
const FRAMES = 10_000;
const BATCH = 100;
const CLIENT_EVENTS = 5_000;
/** Below the bot's /sync timeline limit, so each batch arrives whole. */
const CLIENT_BATCH = 40;
const RUN_DEADLINE_MS = timing("RUN_DEADLINE_MS");
const RETRY_MAX_MS = timing("MATRIX_RETRY_MAX_MS");
/** Deadline of the waits for an answer: generous, a busy machine routes thousands of junk events in order first. */
const ANSWER_DEADLINE_MS = 6 * RUN_DEADLINE_MS;
const ANSWER = "still here, and sane";
/** A bound independent of the amount of junk (each bad input is at most one warning). */
const MAX_ERROR_LINES = 10;

describe("fault: generated junk from the homeserver and from the agent", () => {
  let s: Scenario | undefined;
  afterEach(async () => {
    for (const counter of counting.splice(0)) counter.stop();
    await s?.stop();
    s = undefined;
    await closeScriptedAgents();
  });

  it("10,000 events and 10,000 agent frames later, a normal turn is answered and the log is bounded", async () => {
    const agent = await startScriptedAgent({ protocol: 2, onFrame: (conn, f) => f.op === "run" && conn.answer(String(f.runId), ANSWER) });
    const world = (s = await Scenario.start({ mode: "appservice", env: { AGENT_URL: agent.url, LOG_LEVEL: "debug", ...EVERY_LOG_LINE } }));
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
    const failures = countProcessFailures();

    const statuses = new Map<number, number>();
    let pushRetries = 0;
    const pushing = async (): Promise<void> => {
      for (let i = 0; i < events.length; i += BATCH) {
        const batch = events.slice(i, i + BATCH) as unknown as ClientEvent[];
        // As a homeserver does, a transaction lost on the network is sent again with the same txnId (e.g. the
        // first push reusing a keep-alive connection that the bot closed while this process was busy sampling).
        for (let attempt = 1; ; attempt++) {
          try {
            const { status } = await world.hs.pushTransaction("matrix-agent-bot", batch, { txnId: `fuzz-${SEED}-${i}` });
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
            break;
          } catch (error) {
            if (attempt >= 5) throw error;
            pushRetries += 1;
            await sleep(RETRY_MAX_MS);
          }
        }
      }
    };
    // As a separate agent process would: frames go out in bursts, and the event loop (shared here) gets a turn.
    const flooding = async (): Promise<void> => {
      for (let i = 0; i < frames.length; i += 250) {
        const conn = agent.latest();
        for (const frame of frames.slice(i, i + 250)) conn.raw(frame);
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    await Promise.all([pushing(), flooding()]);
    expect([...statuses.entries()]).toEqual([[200, EVENTS / BATCH]]); // every transaction made durable and acknowledged

    const figures = await measureSanity(world, linesBefore, failures);
    const framesRejected = world.bot.logs.lines().slice(linesBefore).filter((l) => l.msg === "agent link: malformed frame rejected").length;
    printFigure("fuzz-10k-events-10k-frames", {
      eventsPushed: events.length, framesSent: frames.length, framesRejected, linkDrops: agent.conns.length - connsBefore, pushRetries,
      ms: Date.now() - startedAt, ...figures,
    });
    expectSane(world, figures, events.length + frames.length);
  }, 5 * 60_000); // 20,000 inputs: minutes on a busy machine (jest.faults.config.js allows 2 by default)

  it("client mode: generated events in a group room's timeline, synced by the bot, then a normal turn", async () => {
    const agent = await startScriptedAgent({ onFrame: (conn, f) => f.op === "run" && conn.answer(String(f.runId), ANSWER) });
    const world = (s = await Scenario.start({ mode: "client", env: { AGENT_URL: agent.url, LOG_LEVEL: "debug" } }));
    const bob = world.person("bob", "Bob");
    const group = await world.openGroup(world.alice, [bob]);
    const people = [world.alice.userId, bob.userId];
    const raw = fc.sample(rawRoomEvent({ roomIds: [group], userIds: people, botUserId: world.botUserId }), { numRuns: CLIENT_EVENTS, seed: SEED });
    // What a homeserver stores from a client: a type, an object as content, at most 64 KiB; sent by a member.
    const sendable = raw.filter((e) => typeof e["type"] === "string" && e["type"] !== "" && isObject(e["content"])
      && JSON.stringify(e["content"]).length < 60_000);
    const linesBefore = world.bot.logs.raw.length;
    const startedAt = Date.now();
    const failures = countProcessFailures();
    const syncs = (): number => world.hs.requests.filter((r) => r.userId === world.botUserId && r.path.endsWith("/sync")).length;
    let stored = 0;
    for (let i = 0; i < sendable.length; i += CLIENT_BATCH) {
      const before = syncs();
      sendable.slice(i, i + CLIENT_BATCH).forEach((e, j) => {
        try {
          world.hs.sendEvent(people[j % 2] ?? world.alice.userId, group, String(e["type"]), e["content"] as Record<string, unknown>);
          stored += 1;
        } catch (error) {
          if (!(error instanceof MatrixHttpError)) throw error; // refused as a homeserver would (power levels)
        }
      });
      // The bot has taken the batch in once its next long poll is parked.
      await world.hs.waitFor(() => syncs() > before && world.hs.pendingSyncs > 0, { what: "the batch synced", timeoutMs: RUN_DEADLINE_MS });
    }
    // The room the junk landed in still works, and (events are routed in order per room) all of it went through.
    const answeredBefore = world.botMessages(group).length;
    await world.alice.sendText(group, "bot: are you fine in here?", { "m.mentions": { user_ids: [world.botUserId] } });
    // Behind thousands of junk events routed in order (each journaled and completed): as long as that goes on.
    await waitWhileProgressing(() => world.botMessages(group).length >= answeredBefore + 1,
      () => openRows(world.dataDir, "journal"), { what: "the answer in the junk-filled room", stallMs: ANSWER_DEADLINE_MS });
    expect(world.botMessages(group).at(-1)?.content["body"]).toBe(ANSWER);
    const figures = await measureSanity(world, linesBefore, failures);
    printFigure("fuzz-client-mode-timeline", { eventsInTimeline: stored, ms: Date.now() - startedAt, ...figures });
    expectSane(world, figures, stored);
  });
});

/** Counters not stopped yet (stopped after each test whatever happened). */
const counting: Array<{ stop(): void }> = [];

/** Counts process-level failures (an in-process bot's crash or unhandled rejection) until `stop()`. */
function countProcessFailures(): { readonly crashes: number; readonly unhandledRejections: number; stop(): void } {
  const counts = { crashes: 0, unhandledRejections: 0 };
  const onRejection = (): void => void (counts.unhandledRejections += 1);
  const onException = (): void => void (counts.crashes += 1);
  process.on("unhandledRejection", onRejection);
  process.on("uncaughtException", onException);
  const counter = {
    get crashes() {
      return counts.crashes;
    },
    get unhandledRejections() {
      return counts.unhandledRejections;
    },
    stop: () => {
      process.off("unhandledRejection", onRejection);
      process.off("uncaughtException", onException);
    },
  };
  counting.push(counter);
  return counter;
}

const isObject = (v: unknown): boolean => typeof v === "object" && v !== null && !Array.isArray(v);

interface SanityFigures {
  answered: boolean;
  crashes: number;
  unhandledRejections: number;
  logLines: number;
  warnings: number;
  errors: number;
  longestLogLine: number;
}

/** After the junk: a newcomer's first message, answered or not; crashes and rejections counted; the log after `linesBefore` measured. */
async function measureSanity(world: Scenario, linesBefore: number, failures: ReturnType<typeof countProcessFailures>): Promise<SanityFigures> {
  const carol = world.person("carol", "Carol");
  const fresh = await world.openDm(carol);
  await carol.sendText(fresh, "are you still there after all that?");
  const [answer] = await world.hs.waitFor(() => {
    const msgs = world.botMessages(fresh);
    return msgs.length > 0 ? msgs : undefined;
  }, { what: "the normal turn answered", timeoutMs: ANSWER_DEADLINE_MS, intervalMs: 50 });
  await new Promise((resolve) => setImmediate(resolve)); // a rejection of the last tick surfaces
  failures.stop();
  const lines = world.bot.logs.raw.slice(linesBefore);
  return {
    answered: answer?.content["body"] === ANSWER, crashes: failures.crashes, unhandledRejections: failures.unhandledRejections,
    logLines: lines.length, warnings: world.bot.logs.lines().slice(linesBefore).filter((l) => l.level === 40).length,
    errors: errorLines(world.bot.logs).length, longestLogLine: Math.max(...lines.map((l) => l.length)),
  };
}

/** The newcomer answered; no crash, no unhandled rejection; the log bounded whatever the amount of junk. */
function expectSane(world: Scenario, figures: SanityFigures, badInputs: number): void {
  expect({ crashes: figures.crashes, unhandledRejections: figures.unhandledRejections }).toEqual({ crashes: 0, unhandledRejections: 0 });
  expect(figures.answered).toBe(true);
  // Junk can claim the bot joined a room the homeserver does not know: that introduction becomes a dead letter.
  expect(errorLines(world.bot.logs).filter((l) => !/dead letter/.test(l.msg ?? ""))).toEqual([]);
  expect(figures.errors).toBeLessThanOrEqual(MAX_ERROR_LINES);
  expect(figures.warnings).toBeLessThanOrEqual(badInputs); // at most one warning per bad input
  expect(figures.longestLogLine).toBeLessThan(4096); // no junk content copied into the log
}
