// Scheduled proactive check-ins through the real bot: the reference agent (as `npm run agent` configures it,
// echo mode, its own DATA_DIR, a hand-moved clock) posts PROACTIVE_PROMPT at PROACTIVE_SCHEDULE; the bot
// puts it in every opted-in room and no other. A check-in produced while the bot is down, across an agent
// restart, arrives once after the bot reconnects.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import pino from "pino";
import { loadAgentConfig } from "../../src/reference-agent/config";
import { startReferenceAgentFromConfig, type ConfiguredAgent } from "../../src/reference-agent/from-config";
import { copiesPerRoom } from "../support/fanout-world";
import { ManualClock } from "../support/manual-clock";
import { MODES, Scenario, type Mode } from "../support/scenario";
import { waitFor } from "../support/wait";

const PROMPT = "Good morning! Anything planned today?";

let s: Scenario | undefined;
let agent: ConfiguredAgent | undefined;
let agentDir = "";
afterEach(async () => {
  await s?.stop();
  await agent?.close();
  s = undefined;
  agent = undefined;
  fs.rmSync(agentDir, { recursive: true, force: true });
});

async function startAgent(port: number, token: string, clock: ManualClock): Promise<ConfiguredAgent> {
  const loaded = loadAgentConfig({ DATA_DIR: agentDir, PROACTIVE_SCHEDULE: "0 9 * * *", PROACTIVE_PROMPT: PROMPT });
  if (!loaded.ok) throw new Error(loaded.message);
  return startReferenceAgentFromConfig(loaded.config, {
    logger: pino({ level: "silent" }), host: "127.0.0.1", port, token, clock, timezone: "UTC",
  });
}

/** The agent's journal of agent-initiated frames is empty: the bot acked everything. */
async function untilNoUnackedFrames(what: string): Promise<void> {
  await waitFor(async () => (await agent?.unackedFrames()) === 0, { what, intervalMs: 20 });
}

async function optIn(world: Scenario, roomId: string): Promise<void> {
  const before = world.botMessages(roomId).length;
  await world.alice.sendText(roomId, "!proactive on");
  await world.waitBotMessages(roomId, before + 1, "the opt-in confirmation");
}

test.each(MODES)("%s mode: a scheduled check-in reaches every opted-in room; one produced while the bot was away arrives once after it reconnects", async (mode: Mode) => {
  agentDir = fs.mkdtempSync(path.join(os.tmpdir(), "checkin-agent-"));
  const token = randomBytes(16).toString("hex");
  const clock = new ManualClock(Date.parse("2030-01-01T08:59:00Z"));
  agent = await startAgent(0, token, clock);
  const port = agent.port;
  s = await Scenario.start({ mode, env: { AGENT_URL: agent.url, AGENT_TOKEN: token } });
  const world = s;
  const optedIn = [await world.openDm(), await world.openGroup(world.alice)];
  const quiet = await world.openGroup(world.alice);
  for (const roomId of optedIn) await optIn(world, roomId);
  const quietBefore = world.botMessages(quiet).length;
  await world.hs.waitFor(() => agent?.connections() === 1, { what: "the bot connected to the agent" });

  // 09:00: the check-in goes to both opted-in rooms, once each, and not to the quiet room.
  await clock.advanceTo("2030-01-01T09:00:00Z");
  await world.hs.waitFor(() => [...copiesPerRoom(world, optedIn, PROMPT).values()].every((n) => n === 1), {
    what: "the check-in in every opted-in room",
  });
  await untilNoUnackedFrames("the bot acked the check-in");
  await world.expectSteady(() => {
    expect([...copiesPerRoom(world, optedIn, PROMPT).values()]).toEqual([1, 1]);
    expect(world.botMessages(quiet)).toHaveLength(quietBefore);
  });

  // The bot goes away; the next day's check-in is produced with nobody to receive it; the agent restarts.
  await world.stopBot();
  await clock.advanceTo("2030-01-02T09:00:00Z");
  await agent.checkIns?.idle();
  expect(agent.checkIns?.stats().sent).toBe(2);
  await agent.close();
  agent = await startAgent(port, token, new ManualClock(Date.parse("2030-01-02T09:00:01Z")));
  expect(await agent.unackedFrames()).toBeGreaterThan(0);

  // The bot comes back: the missed check-in arrives once in each opted-in room, and is then forgotten.
  await world.startBot();
  await world.hs.waitFor(() => [...copiesPerRoom(world, optedIn, PROMPT).values()].every((n) => n === 2), {
    what: "the missed check-in after the reconnect",
  });
  await untilNoUnackedFrames("the replayed check-in acked");
  const linkUps = (): number => world.bot.logs.lines().filter((l) => l.msg === "agent link up").length;
  const upBefore = linkUps();
  agent.dropConnections(); // one more reconnect: nothing is replayed
  await world.hs.waitFor(() => linkUps() > upBefore && agent?.connections() === 1, { what: "the bot reconnected" });
  await world.expectSteady(() => {
    expect([...copiesPerRoom(world, optedIn, PROMPT).values()]).toEqual([2, 2]);
    expect(world.botMessages(quiet)).toHaveLength(quietBefore);
  });
});
