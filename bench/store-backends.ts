// Turn latency and throughput of the bot on each store backend, in one run: SQLite, PostgreSQL and Redis (the
// servers scripts/services.sh starts; a backend whose server does not answer is noted and left out). Each backend
// gets its own homeserver double, bot install and fresh store; the same instant agent answers every turn.
import { startHomeserver } from "../test/support/homeserver";
import { ALL_BACKENDS, backendReachable, freshStore } from "../test/support/backends";
import { CpuMeter, figure, note, round, summarize } from "./support/figures";
import { startLenientInstantAgent } from "./support/instant-agent";
import { BotInstall, createRooms, until } from "./support/subjects";
import { TurnDriver } from "./support/turn-driver";

export interface StoreBackendBenchOptions {
  rooms: number;
  /** Rooms active at once while latency is measured. */
  active: number;
  latencyMs: number;
  throughputMs: number;
  nodeArgs?: string[];
}

export async function storeBackendBenchmarks(opts: StoreBackendBenchOptions): Promise<void> {
  const agent = await startLenientInstantAgent();
  try {
    for (const backend of ALL_BACKENDS) {
      if (!backendReachable(backend)) {
        note(`store backend ${backend}: no server; start them with scripts/services.sh start`);
        continue;
      }
      const hs = await startHomeserver({ maxEventsPerTransaction: 100 });
      const install = await BotInstall.create(hs);
      const store = await freshStore(backend, install.dataDir);
      let stop: (() => Promise<void>) | undefined;
      try {
        const alice = hs.addUser("alice");
        const rooms = createRooms(hs, alice.userId, install.userId, opts.rooms);
        const { bot } = await install.start(agent.url, { STORE_URL: store.url }, opts.nodeArgs ?? []);
        stop = () => bot.stop();
        await until(() => agent.connections() >= 1, "the bot's agent link");
        const driver = new TurnDriver(hs, alice.userId, install.userId, install.appserviceId);
        await driver.run(rooms, { turnsPerRoom: 1 }); // warm-up
        let cpu = new CpuMeter({ subject: bot.pid, double: process.pid });
        const latency = await driver.run(rooms.slice(0, opts.active), { durationMs: opts.latencyMs });
        const l = summarize(latency.latencies);
        figure("store-backend-turn-latency", { backend, activeRooms: opts.active, turns: latency.turns, p50Ms: l.p50, p99Ms: l.p99,
          meanMs: l.mean, maxMs: l.max, ...cpu.read(latency.turns) });
        cpu = new CpuMeter({ subject: bot.pid, double: process.pid });
        const load = await driver.run(rooms, { durationMs: opts.throughputMs });
        figure("store-backend-throughput", { backend, activeRooms: opts.rooms, seconds: round(load.elapsedMs / 1000, 1), turns: load.turns,
          turnsPerSec: round(load.turns / (load.elapsedMs / 1000), 0), ...cpu.read(load.turns) });
      } finally {
        await stop?.();
        await hs.close();
        await store.drop();
      }
    }
  } finally {
    await agent.close();
  }
}
