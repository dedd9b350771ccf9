// The bot process SIGKILLed with a lot in flight, then restarted on the same data (client mode, the built bot
// as a child process): 100 messages journaled but their sync token never saved (the homeserver redelivers
// all of them: no reply doubled; on SQLite the token now goes in the journal's commit, so the restart resumes them
// from the journal instead), and a proactive fan-out to 1,000 rooms cut short (each room exactly once).
import { ChildBot } from "../support/bot-harness";
import { botMessagesIn } from "../support/bot-messages";
import { createJoinedRooms, MANY_ROOMS_POLL } from "../support/fanout-world";
import { Scenario } from "../support/scenario";
import { waitWhileProgressing } from "../support/wait";
import { echoReplyFor } from "../../src/reference-agent/server";
import {
  AGENT_DEADLINES, bodiesPerRoom, currentSyncToken, duplicatesIn, printFigure, seedKnownRooms, timing, UNBOUNDED_RUNS,
} from "./support";

const RUN_DEADLINE_MS = timing("RUN_DEADLINE_MS");
const SHUTDOWN_GRACE_MS = timing("SHUTDOWN_GRACE_MS");
/** How long a restarted bot may take to log ready: it first resumes what it journaled (a busy machine: slowly). */
const READY_DEADLINE_MS = 6 * RUN_DEADLINE_MS;

describe("fault: the bot process killed and restarted", () => {
  let s: Scenario | undefined;
  const children: ChildBot[] = [];
  afterEach(async () => {
    for (const child of children.splice(0)) await child.stop();
    await s?.stop();
    s = undefined;
  });

  const child = (env: Record<string, string>): ChildBot => {
    const bot = new ChildBot(env);
    children.push(bot);
    return bot;
  };

  it("100 journaled messages whose sync token was never saved are redelivered after a restart: each answered once", async () => {
    const world = (s = await Scenario.start({ mode: "client", env: { ...UNBOUNDED_RUNS, ...AGENT_DEADLINES } }));
    await world.stopBot();
    const rooms = createJoinedRooms(world, 100);
    await seedKnownRooms(world.dataDir, rooms);
    rooms.forEach((roomId, i) => world.hs.sendEvent(world.alice.userId, roomId, "m.room.message", { msgtype: "m.text", body: `replay ${i}` }));

    // All 100 arrive in the first /sync batch; the bot dies once they are journaled, before the token is saved.
    const first = child({ ...world.botEnv, MAB_TEST_CRASH_AT: "message-journaled" });
    expect(await first.exited).toEqual({ code: null, signal: "SIGKILL" });
    expect(rooms.every((r) => botMessagesIn(world.hs, r, world.botUserId).length === 0)).toBe(true);

    const restartedAt = Date.now();
    const second = child(world.botEnv);
    await second.ready(READY_DEADLINE_MS);
    const answered = (): number => rooms.filter((r) => botMessagesIn(world.hs, r, world.botUserId).length > 0).length;
    await waitWhileProgressing(() => answered() === rooms.length, answered,
      { what: "all 100 replayed messages answered", stallMs: 2 * RUN_DEADLINE_MS, ...MANY_ROOMS_POLL });
    const replayMs = Date.now() - restartedAt;
    await world.quiet(SHUTDOWN_GRACE_MS / 4); // room for a duplicate to show up, if there were one
    // Counted from what the double received: the bot's messages per room beyond the one answer.
    const duplicates = duplicatesIn(rooms.map((r) => botMessagesIn(world.hs, r, world.botUserId).length));
    const resumed = second.logs.find((l) => l.msg === "resuming unfinished events");
    printFigure("restart-with-100-events-replayed", {
      events: rooms.length, resumedFromJournal: Number(resumed?.["count"] ?? 0), replayMs, duplicates,
    });
    expect(duplicates).toBe(0);
    rooms.forEach((roomId, i) => {
      expect(botMessagesIn(world.hs, roomId, world.botUserId).map((e) => e.content["body"])).toEqual([echoReplyFor(`replay ${i}`)]);
    });
  });

  it("SIGKILL mid fan-out to 1,000 rooms, then a restart: each room gets the message exactly once", async () => {
    const world = (s = await Scenario.start({ mode: "client", externalAgent: true, env: { ...UNBOUNDED_RUNS, ...AGENT_DEADLINES } }));
    await world.stopBot();
    const rooms = createJoinedRooms(world, 1000);
    // A bot long in these rooms: introduced, opted in, its sync token past their creation.
    await seedKnownRooms(world.dataDir, rooms, { optIn: true, syncToken: await currentSyncToken(world) });
    const first = child(world.botEnv);
    await first.ready(READY_DEADLINE_MS);
    world.hs.sendDelayMs = 10; // the double answers each send a little later, so the kill lands mid fan-out

    const body = "Digest for a thousand rooms";
    const startedAt = Date.now();
    await world.agent?.emitProactive("*", body);
    const served = (): number => bodiesPerRoom(world, rooms, body).filter((n) => n > 0).length;
    await world.hs.waitFor(() => served() >= 100, { what: "100 rooms served", timeoutMs: RUN_DEADLINE_MS, ...MANY_ROOMS_POLL });
    first.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");
    const servedBeforeKill = served();
    expect(servedBeforeKill).toBeLessThan(rooms.length); // really killed mid fan-out
    world.hs.sendDelayMs = 0;

    const second = child(world.botEnv);
    await second.ready(READY_DEADLINE_MS);
    await waitWhileProgressing(() => served() === rooms.length, served,
      { what: "every room served", stallMs: 2 * RUN_DEADLINE_MS, ...MANY_ROOMS_POLL });
    const totalMs = Date.now() - startedAt;
    await world.quiet(SHUTDOWN_GRACE_MS / 4);
    const counts = bodiesPerRoom(world, rooms, body);
    const duplicates = duplicatesIn(counts);
    printFigure("sigkill-mid-fanout-1000-rooms", { rooms: rooms.length, servedBeforeKill, totalMs, duplicates });
    expect(duplicates).toBe(0);
    expect(counts.filter((n) => n !== 1)).toEqual([]);
  });
});
