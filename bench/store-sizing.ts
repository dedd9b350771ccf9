// Measured sizing of a shared store (runbook/scale-out.md): the real bot (appservice mode, production timings, an
// instant agent) on PostgreSQL and on Redis, under a steady load across many rooms, with what it costs read from the
// server itself (bench/support/store-probes.ts): entries and bytes per room and per turn kept, statements (PostgreSQL)
// or commands (Redis) per turn, connections, and the idle cost of the store lease, for the active alone and with a
// standby waiting beside it. The servers of scripts/services.sh (MAB_TEST_POSTGRES_URL, MAB_TEST_REDIS_URL); a
// backend whose server does not answer is noted and left out.
import { startHomeserver } from "../test/support/homeserver";
import { backendReachable, freshStore, type BackendName } from "../test/support/backends";
import { ChildBot, makeDataDir, removeDir } from "../test/support/bot-harness";
import { readBotWork } from "../test/support/bot-idle";
import { STANDBY_LINE } from "../test/support/standby";
import { CpuMeter, figure, note, round } from "./support/figures";
import { startLenientInstantAgent } from "./support/instant-agent";
import { PostgresProbe, RedisProbe, type StoreProbe, type StoreSnapshot } from "./support/store-probes";
import { BotInstall, createRooms, until } from "./support/subjects";
import { TurnDriver } from "./support/turn-driver";

export interface StoreSizingOptions {
  rooms: number;
  /** Turns per room in the steady phase (after each room's first). */
  turnsPerRoom: number;
  /** How long each idle phase (the lease's cost) is counted. */
  idleMs: number;
  nodeArgs?: string[];
}

const SHARED: readonly BackendName[] = ["postgres", "redis"];

async function openProbe(backend: BackendName, url: string): Promise<StoreProbe> {
  return backend === "postgres" ? PostgresProbe.open(url) : RedisProbe.open(url);
}

async function untilIdle(bot: ChildBot): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!(await readBotWork(bot)).idle) {
    if (Date.now() > deadline) throw new Error("the bot did not become idle within 120 s");
    await new Promise((r) => setTimeout(r, 100));
  }
}

const per = (value: number, count: number, digits = 1): number => round(value / Math.max(1, count), digits);

export async function storeSizingBenchmarks(opts: StoreSizingOptions): Promise<void> {
  const agent = await startLenientInstantAgent();
  try {
    for (const backend of SHARED) {
      if (!backendReachable(backend)) {
        note(`store sizing ${backend}: no server; start them with scripts/services.sh start`);
        continue;
      }
      await sizeOne(backend, agent, opts);
    }
  } finally {
    await agent.close();
  }
}

async function sizeOne(backend: BackendName, agent: { url: string; connections(): number }, opts: StoreSizingOptions): Promise<void> {
  const hs = await startHomeserver({ maxEventsPerTransaction: 100 });
  const install = await BotInstall.create(hs);
  const store = await freshStore(backend, install.dataDir);
  const standbyDir = makeDataDir();
  const bots: ChildBot[] = [];
  let probe: StoreProbe | undefined;
  try {
    const alice = hs.addUser("alice");
    const rooms = createRooms(hs, alice.userId, install.userId, opts.rooms);
    const { bot } = await install.start(agent.url, { STORE_URL: store.url }, opts.nodeArgs ?? []);
    bots.push(bot);
    await until(() => agent.connections() >= 1, "the bot's agent link");
    probe = await openProbe(backend, store.url);
    const p = probe;
    const empty = await p.snapshot();
    note(`store sizing ${backend}: ${opts.rooms} rooms, a first turn in each`);
    const driver = new TurnDriver(hs, alice.userId, install.userId, install.appserviceId);
    const first = await p.count(async () => {
      const run = await driver.run(rooms, { turnsPerRoom: 1 });
      await untilIdle(bot);
      return run;
    });
    const afterFirst = await p.snapshot();
    const roomShare = (s: StoreSnapshot, t: StoreSnapshot) => ({ entries: t.entries - s.entries, bytes: t.bytes - s.bytes });
    const firstGrowth = roomShare(empty, afterFirst);
    figure("store-sizing-rooms", { backend, rooms: opts.rooms, turns: first.result.turns,
      entriesPerRoom: per(firstGrowth.entries, opts.rooms), bytesPerRoom: per(firstGrowth.bytes, opts.rooms, 0),
      statementsPerFirstTurn: per(first.statements, first.result.turns), entriesAtStart: empty.entries, bytesAtStart: empty.bytes });

    note(`store sizing ${backend}: ${opts.turnsPerRoom} more turns in each room`);
    const cpu = new CpuMeter({ subject: bot.pid, double: process.pid });
    const steady = await p.count(async () => {
      const run = await driver.run(rooms, { turnsPerRoom: opts.turnsPerRoom });
      const cpuRead = cpu.read(run.turns);
      await untilIdle(bot);
      return { run, cpuRead };
    });
    const afterSteady = await p.snapshot();
    const turns = steady.result.run.turns;
    const seconds = steady.result.run.elapsedMs / 1000;
    const growth = roomShare(afterFirst, afterSteady);
    figure("store-sizing-turns", { backend, activeRooms: opts.rooms, turns, seconds: round(seconds, 1), turnsPerSec: round(turns / seconds, 0),
      entriesPerTurn: per(growth.entries, turns, 2), bytesPerTurn: per(growth.bytes, turns, 0),
      statementsPerTurn: per(steady.statements, turns, 2),
      ...(steady.detail === undefined ? {} : { rowsWrittenPerTurn: per(steady.detail, turns, 2) }),
      ...(afterSteady.liveBytes === undefined || afterFirst.liveBytes === undefined ? {}
        : { liveBytesPerTurn: per(afterSteady.liveBytes - afterFirst.liveBytes, turns, 0) }),
      statementsPerSec: round(steady.statements / seconds, 0), peakConnections: steady.peakConnections,
      entries: afterSteady.entries, bytes: afterSteady.bytes, ...steady.result.cpuRead });
    // What grows with what: entries and bytes per room (its first turn included) and per later turn, by namespace.
    const names = [...new Set([...Object.keys(afterFirst.namespaces), ...Object.keys(afterSteady.namespaces)])].sort();
    const delta = (from: StoreSnapshot, to: StoreSnapshot, name: string, what: "entries" | "bytes") =>
      (to.namespaces[name]?.[what] ?? 0) - (from.namespaces[name]?.[what] ?? 0);
    const share = (from: StoreSnapshot, to: StoreSnapshot, name: string, count: number) =>
      `${per(delta(from, to, name, "entries"), count, 2)} (${per(delta(from, to, name, "bytes"), count, 0)} B)`;
    figure("store-sizing-namespaces", { backend, ...Object.fromEntries(names.map((name) =>
      [name, `${share(empty, afterFirst, name, opts.rooms)}/room, ${share(afterFirst, afterSteady, name, turns)}/turn`])) });
    const idle = (what: string) => p.count(() => new Promise((r) => setTimeout(r, opts.idleMs)).then(() => what));
    note(`store sizing ${backend}: idle ${opts.idleMs / 1000} s (the lease's renewals), then with a standby beside it`);
    const alone = await idle("active alone");
    const standby = new ChildBot({ ...install.env(agent.url, { STORE_URL: store.url }), DATA_DIR: standbyDir });
    bots.push(standby);
    await standby.logs.waitFor((l) => l.msg === STANDBY_LINE, "the standby's waiting line", 60_000);
    const paired = await idle("with a standby");
    const snapshot = await p.snapshot();
    figure("store-sizing-lease", { backend, idleSeconds: opts.idleMs / 1000,
      idleStatementsPerSecActive: per(alone.statements, alone.windowMs / 1000, 2),
      idleStatementsPerSecStandby: round(paired.statements / (paired.windowMs / 1000) - alone.statements / (alone.windowMs / 1000), 2),
      connectionsActive: alone.peakConnections, connectionsWithStandby: Math.max(paired.peakConnections, snapshot.connections) });
  } finally {
    for (const b of bots.reverse()) await b.stop();
    await probe?.close();
    await hs.close();
    await store.drop();
    install.remove();
    removeDir(standbyDir);
  }
}
