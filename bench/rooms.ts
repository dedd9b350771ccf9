// Many rooms: start to ready and memory with 10,000 known rooms, and one proactive result fanned out to 1,000
// and to 10,000 opted-in rooms (time until every room's PUT reached the double, and the bot's RSS growth).
import { readdirSync, renameSync } from "node:fs";
import path from "node:path";
import pino from "pino";
import { startHomeserver, type Homeserver } from "../test/support/homeserver";
import type { ChildBot } from "../test/support/bot-harness";
import { LIFECYCLE_NAMESPACES } from "../src/rooms/lifecycle";
import { openStore } from "../src/store";
import type { ReferenceAgent } from "../src/reference-agent/server";
import { CpuMeter, figure, note, round, rssMb, RssSampler, sleep } from "./support/figures";
import { botGcMs, botHeap, BotInstall, botStoreWrites, createRooms, gcFigures, HeapSpaceSampler, startInstantAgent, until } from "./support/subjects";
import { TurnDriver } from "./support/turn-driver";

export interface RoomBenchOptions {
  rooms: number;
  fanouts: number[];
  /** The memory figure: after one turn in every room, this many rooms at a time. */
  memoryBatch: number;
  /** A fan-out not finished by then is reported with the rooms served so far. */
  fanoutTimeoutMs: number;
  nodeArgs?: string[];
  /** Extra environment for the bot (experiments). */
  botEnv?: Record<string, string>;
  /** false: the fan-outs only (BENCH_ONLY=fanout), no memory passes. Default true. */
  memoryPasses?: boolean;
  /** A directory: heap snapshots of the bot after each memory pass (BENCH_HEAP_SNAPSHOTS; bench/heap-summary.mjs reads them). */
  heapSnapshotDir?: string;
}

/** Writes what a bot long in these rooms has recorded: its introduction in each, and the opt-ins given. */
async function seedStore(dataDir: string, introduced: readonly string[], optedIn: readonly string[]): Promise<void> {
  const store = await openStore(`sqlite://${dataDir}/bot.sqlite`, { logger: pino({ level: "silent" }) });
  try {
    const intro = store.namespace<number>(LIFECYCLE_NAMESPACES.introductions);
    const optIns = store.namespace<number>("proactive-rooms");
    const now = Date.now();
    for (let i = 0; i < introduced.length; i += 500) {
      await Promise.all(introduced.slice(i, i + 500).map((r) => intro.set(r, now)));
    }
    for (let i = 0; i < optedIn.length; i += 500) {
      await Promise.all(optedIn.slice(i, i + 500).map((r) => optIns.set(r, now)));
    }
  } finally {
    await store.close();
  }
}

/** Emits one proactive result for "*" and waits until each of `rooms` received the bot's PUT. */
async function fanout(hs: Homeserver, agent: ReferenceAgent, bot: ChildBot, rooms: readonly string[],
  timeoutMs: number): Promise<void> {
  const wanted = new Set(rooms);
  const served = new Set<string>();
  let lastAt = 0;
  const body = `digest ${Date.now()}`;
  const unobserve = hs.observe({
    request: (record, now) => {
      if (record.method !== "PUT") return; // (record.userId is not known yet: only the bot posts in these rooms)
      const roomId = /\/rooms\/([^/]+)\/send\/m\.room\.message\//.exec(record.path)?.[1];
      if (roomId === undefined || !wanted.has(roomId) || served.has(roomId)) return;
      served.add(roomId);
      lastAt = now;
    },
  });
  await sleep(1000); // let the bot settle after start
  const before = rssMb(bot.pid);
  const sampler = new RssSampler(bot.pid, 25);
  const spaces = new HeapSpaceSampler(bot);
  const cpu = new CpuMeter({ bot: bot.pid, double: process.pid });
  const writesBefore = await botStoreWrites(bot);
  const gcBefore = await botGcMs(bot);
  const startedAt = performance.now();
  let complete = true;
  try {
    await agent.emitProactive("*", body);
    await until(() => served.size >= wanted.size, `${wanted.size} rooms served`, timeoutMs, 10);
  } catch {
    complete = false; // reported with the rooms served so far
  } finally {
    unobserve();
  }
  const peak = sampler.stop();
  const ms = (complete ? lastAt : performance.now()) - startedAt;
  const used = cpu.read(served.size);
  const spacePeaks = await spaces.stop();
  await sleep(500); // the last sent marks
  figure("fanout", { rooms: wanted.size, served: served.size, complete, ms: round(ms, 0), roomsPerSec: round(served.size / (ms / 1000), 0), rssBeforeMb: before,
    rssPeakMb: peak, rssGrowthMb: round(peak - before, 1), targetMsFor10000: 5000, targetGrowthMb: 50, ...used, ...spacePeaks,
    ...perUnit(await botStoreWrites(bot), writesBefore, served.size), ...gcFigures(await botGcMs(bot), gcBefore, served.size) });
}

/**
 * Every room known to the bot's memory too: one turn in each, `memoryBatch` rooms at a time; then the same again
 * (a second pass over the same rooms: memory that grows again is kept per turn, not per room). After each pass:
 * RSS and heap 2 s later, and after 15 s idle (V8's memory reducer collects what the burst left once it is quiet).
 */
async function memoryPasses(hs: Homeserver, aliceId: string, install: BotInstall, bot: ChildBot, rooms: readonly string[],
  opts: RoomBenchOptions): Promise<void> {
  const driver = new TurnDriver(hs, aliceId, install.userId, install.appserviceId);
  try {
    for (const pass of [1, 2]) {
      const sampler = new RssSampler(bot.pid, 100);
      const spaces = new HeapSpaceSampler(bot);
      const cpu = new CpuMeter({ bot: bot.pid });
      const gcBefore = await botGcMs(bot);
      const t = performance.now();
      let turned = 0;
      for (let i = 0; i < rooms.length; i += opts.memoryBatch) {
        turned += (await driver.run(rooms.slice(i, i + opts.memoryBatch), { turnsPerRoom: 1, drainMs: 300_000 })).turns;
      }
      const turnsMs = performance.now() - t;
      const used = { ...cpu.read(turned), ...gcFigures(await botGcMs(bot), gcBefore, turned), ...(await spaces.stop()) };
      await sleep(2000);
      const at2s = { rssMb: rssMb(bot.pid), rssPeakMb: sampler.stop(), ...(await botHeap(bot)) };
      await sleep(13_000);
      const at15s = await botHeap(bot);
      const idle15sRssMb = rssMb(bot.pid);
      const snapshot = opts.heapSnapshotDir === undefined ? {} : { heapSnapshot: await heapSnapshot(bot, opts.heapSnapshotDir, `pass${pass}`) };
      figure("memory", { pass, knownRooms: rooms.length, turnedRooms: turned, activeAtOnce: opts.memoryBatch, turnsMs: round(turnsMs, 0),
        ...used, ...at2s, idle15sRssMb, idle15sHeapUsedMb: at15s.heapUsedMb, idle15sHeapTotalMb: at15s.heapTotalMb, ...snapshot, targetMb: 150 });
    }
  } finally {
    driver.close();
  }
}

/** Asks the bot (started with --heapsnapshot-signal=SIGUSR2) for a heap snapshot; resolves with its path once written. */
async function heapSnapshot(bot: ChildBot, dir: string, label: string): Promise<string> {
  const before = new Set(readdirSync(dir));
  if (bot.pid === undefined) throw new Error("the bot has no pid");
  process.kill(bot.pid, "SIGUSR2");
  let file: string | undefined;
  await until(() => (file = readdirSync(dir).find((f) => f.endsWith(".heapsnapshot") && !before.has(f))) !== undefined, "a heap snapshot", 120_000, 200);
  await botHeap(bot); // answers once the snapshot is written (it blocks the bot's event loop)
  const named = path.join(dir, `bot-${label}-${file ?? ""}`);
  renameSync(path.join(dir, file ?? ""), named);
  note(`heap snapshot: ${named} (node bench/heap-summary.mjs ${named})`);
  return named;
}

/** Store writes and commits per room over a phase (from the bot's /metrics). */
function perUnit(after: { writes: number; commits: number } | undefined, before: { writes: number; commits: number } | undefined,
  units: number): Record<string, number> {
  if (after === undefined || before === undefined || units === 0) return {};
  return { storeWritesPerRoom: round((after.writes - before.writes) / units, 2), commitsPerRoom: round((after.commits - before.commits) / units, 3) };
}

export async function roomBenchmarks(opts: RoomBenchOptions): Promise<void> {
  const hs = await startHomeserver({ maxEventsPerTransaction: 100 });
  const alice = hs.addUser("alice");
  const agent = await startInstantAgent();
  const install = await BotInstall.create(hs);
  let running: ChildBot | undefined;
  try {
    let t = performance.now();
    const rooms = createRooms(hs, alice.userId, install.userId, opts.rooms);
    note(`created ${opts.rooms} rooms in ${Math.round(performance.now() - t)} ms`);
    const fanouts = [...opts.fanouts].sort((a, b) => a - b);
    for (const [i, size] of fanouts.entries()) {
      t = performance.now();
      await seedStore(install.dataDir, i === 0 ? rooms : [], rooms.slice(0, size));
      note(`seeded the store (${size} opted in) in ${Math.round(performance.now() - t)} ms`);
      const snapshotArgs = opts.heapSnapshotDir === undefined ? [] : ["--heapsnapshot-signal=SIGUSR2", `--diagnostic-dir=${opts.heapSnapshotDir}`];
      const { bot, readyMs } = await install.start(agent.url, opts.botEnv ?? {}, [...(opts.nodeArgs ?? []), ...snapshotArgs]);
      running = bot;
      const connected = agent.connections();
      await until(() => agent.connections() >= Math.max(1, connected), "the bot's agent link");
      await sleep(500);
      figure("start-to-ready", { subject: "bot", knownRooms: opts.rooms, optedIn: size, ms: round(readyMs, 0), rssAtReadyMb: rssMb(bot.pid),
        ...(await botHeap(bot)), targetMs: 1000 });
      await fanout(hs, agent, bot, rooms.slice(0, size), opts.fanoutTimeoutMs);
      if (i === fanouts.length - 1 && opts.memoryPasses !== false) await memoryPasses(hs, alice.userId, install, bot, rooms, opts);
      await bot.stop();
      running = undefined;
    }
  } finally {
    await running?.stop().catch(() => undefined);
    await agent.close();
    await hs.close();
    install.remove();
  }
}
