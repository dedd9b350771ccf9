// Issue 30, appservice mode (LEASE_MS 5 s here, the default is 10 s): two bot processes on one PostgreSQL or Redis
// store behind a round-robin reverse proxy (test/support/round-robin-proxy.ts), so about every other transaction
// goes to the standby, which stores it for the active and answers 200. Under steady traffic (25 turns/s across 60
// rooms, a proactive fan-out to all of them every second) the active is SIGKILLed three times; each time the standby
// takes over (it replays what it held first) and a new standby starts on the dead one's DATA_DIR. Printed: takeover
// ms, ready ms, transactions the standbys held, requests the proxy passed on from a dead process, lost and doubled
// (counted in what a client shows: an answer in an edit of its placeholder counts), the failure notices posted.
// The agent link's and a run's deadlines are the production ones (AGENT_DEADLINES in standby-traffic.ts).
// Turns come three in a row to a room, so runs answer several turns at once and kills cut such runs short.
// Asserted: the standbys held transactions, 0 lost, no fan-out copy doubled, no turn answered twice (also not by a
// batch run again after a takeover: src/turns/run-batches.ts), each takeover ≤ LEASE_MS + 2 s.
import { appserviceUrlOf, type ChildBot } from "../support/bot-harness";
import { describeEachBackend } from "../support/backends";
import { createJoinedRooms } from "../support/fanout-world";
import { RoundRobinProxy } from "../support/round-robin-proxy";
import { Scenario } from "../support/scenario";
import { ChildBots } from "../support/standby";
import { scaled, waitFor } from "../support/wait";
import {
  AGENT_DEADLINES, batchNamingBrain, FANOUT_INTERVAL_MS, KILLS, killActiveRepeatedly, LEASE_MS, READY_DEADLINE_MS, ROOMS, SteadyTraffic, TAKEOVER_LIMIT_MS,
  TURN_INTERVAL_MS, waitingAsStandby, type TakeoverTimes,
} from "./standby-traffic";
import { EVERY_LOG_LINE, seedKnownRooms, UNBOUNDED_RUNS } from "./support";

const HELD_LINE = "standby: transaction stored for the active";
/** Three takeovers and the recoveries after them take over two minutes on a machine loaded by other test runs. */
const SCENARIO_TIMEOUT_MS = 360_000;

describeEachBackend("fault: appservice mode behind a round-robin proxy, the active SIGKILLed under steady traffic", (backend) => {
  let s: Scenario | undefined;
  let proxy: RoundRobinProxy | undefined;
  const bots = new ChildBots();
  afterEach(async () => {
    await bots.stop();
    await proxy?.close();
    proxy = undefined;
    await s?.stop();
    s = undefined;
  });

  it(`${KILLS} SIGKILLs of the active, transactions to both listeners, 25 turns/s across ${ROOMS} rooms with fan-out: 0 lost, no fan-out copy or turn doubled, takeover ≤ LEASE_MS + 2 s`, async () => {
    const world = (s = await Scenario.start({ mode: "appservice", backend, externalAgent: true, brain: batchNamingBrain(),
      env: { ...UNBOUNDED_RUNS, ...AGENT_DEADLINES, ...EVERY_LOG_LINE, LEASE_MS: String(LEASE_MS) } }));
    if (!("appserviceId" in world.botInbound)) throw new Error("not an appservice world");
    await world.stopBot();
    const router = (proxy = new RoundRobinProxy());
    world.hs.moveAppservice(world.botInbound.appserviceId, await router.start());
    const rooms = createJoinedRooms(world, ROOMS);
    await seedKnownRooms(world.dataDir, rooms, { optIn: true, storeUrl: world.store.url });
    const start = (dataDir?: string): ChildBot => bots.start(world.botEnv, dataDir);
    const listenerOf = (bot: ChildBot): Promise<string> => waitFor(() => bot.appservicePort !== undefined && appserviceUrlOf(bot),
      { what: "a bot's appservice listener", timeoutMs: READY_DEADLINE_MS });

    const active = start(world.dataDir);
    router.route([await listenerOf(active)]);
    await active.ready(READY_DEADLINE_MS);
    const standby = start();
    await waitingAsStandby(standby);
    router.route([await listenerOf(active), await listenerOf(standby)]);

    const traffic = new SteadyTraffic(world, rooms, { turnIntervalMs: TURN_INTERVAL_MS, fanoutIntervalMs: FANOUT_INTERVAL_MS, burst: 3 });
    let times: TakeoverTimes;
    try {
      times = await killActiveRepeatedly(traffic, { active, standby }, KILLS, async (dead, newActive) => {
        const next = start(dead); // on the dead one's DATA_DIR
        await waitingAsStandby(next);
        router.route([await listenerOf(newActive), await listenerOf(next)]);
        return next;
      }, (bot) => bots.dataDirOf(bot));
    } finally {
      await traffic.stop();
    }
    await traffic.settle();
    const held = bots.all.reduce((sum, bot) => sum + bot.logs.lines().filter((l) => l.msg === HELD_LINE).length, 0);
    const { lost, digestsDoubled, turnsDoubled, sameRunTwice } = traffic.report(`standby-appservice-${backend}`,
      { leaseMs: LEASE_MS, kills: KILLS, rooms: ROOMS, heldByStandbys: held, proxyFailedOver: router.failedOver }, times, bots);
    expect(held).toBeGreaterThan(0);
    expect({ lost, digestsDoubled, turnsDoubled, sameRunTwice }).toEqual({ lost: 0, digestsDoubled: 0, turnsDoubled: 0, sameRunTwice: 0 });
    for (const ms of times.takeovers) expect(ms).toBeLessThanOrEqual(TAKEOVER_LIMIT_MS);
  }, scaled(SCENARIO_TIMEOUT_MS));
}, ["postgres", "redis"]);
