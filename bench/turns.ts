// Turn latency (1, 100 and 1,000 rooms active at once) and sustained throughput, for the bot and for the floor
// relay, in one world: one homeserver double, one instant agent, both subjects as child processes.
import { startHomeserver } from "../test/support/homeserver";
import { CpuMeter, figure, note, round, rssMb, summarize } from "./support/figures";
import { startLenientInstantAgent } from "./support/instant-agent";
import { RequestMix } from "./support/request-mix";
import { botGcMs, botStoreWrites, BotInstall, createRooms, FloorRelay, gcFigures, until } from "./support/subjects";
import { TurnDriver, type TurnRunResult } from "./support/turn-driver";

export interface TurnBenchOptions {
  /** Rooms each subject has (the largest active set). */
  rooms: number;
  activeSets: number[];
  /** Measuring time per active set and subject. */
  latencyMs: (active: number) => number;
  throughputMs: number;
  /** Node arguments for the bot process (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** Extra environment for the bot (experiments, e.g. STORE_URL=sqlite://:memory:). */
  botEnv?: Record<string, string>;
  only?: Set<string>;
}

type Subject = "bot" | "floor";

export async function turnBenchmarks(opts: TurnBenchOptions): Promise<void> {
  const hs = await startHomeserver({ maxEventsPerTransaction: 100 });
  const alice = hs.addUser("alice");
  const agent = await startLenientInstantAgent();
  const install = await BotInstall.create(hs);
  const floor = new FloorRelay(hs);
  let stopBot: (() => Promise<void>) | undefined;
  try {
    let t = performance.now();
    const rooms: Record<Subject, string[]> = {
      bot: createRooms(hs, alice.userId, install.userId, opts.rooms),
      floor: createRooms(hs, alice.userId, floor.userId, opts.rooms),
    };
    note(`created ${opts.rooms} rooms per subject in ${Math.round(performance.now() - t)} ms`);

    const { bot, readyMs } = await install.start(agent.url, opts.botEnv ?? {}, opts.nodeArgs ?? []);
    stopBot = () => bot.stop();
    await until(() => agent.connections() >= 1, "the bot's agent link");
    figure("start-to-ready", { subject: "bot", knownRooms: opts.rooms, ms: round(readyMs, 0), rssMb: rssMb(bot.pid) });
    await floor.start(agent);
    const pids: Record<Subject, number | undefined> = { bot: bot.pid, floor: floor.pid };
    const drivers: Record<Subject, TurnDriver> = {
      bot: new TurnDriver(hs, alice.userId, install.userId, install.appserviceId),
      floor: new TurnDriver(hs, alice.userId, floor.userId, FloorRelay.APPSERVICE_ID),
    };

    t = performance.now();
    for (const subject of ["bot", "floor"] as const) await drivers[subject].run(rooms[subject], { turnsPerRoom: 1 });
    note(`warm-up: one turn in each room in ${Math.round(performance.now() - t)} ms`);

    /** Store writes and commits (one fsync each) per turn: the bot's counters; the floor writes nothing. */
    const storeCounts = async (subject: Subject) => (subject === "bot" ? botStoreWrites(bot) : { writes: 0, commits: 0, reads: 0 });
    const userIds: Record<Subject, string> = { bot: install.userId, floor: floor.userId };
    const measure = async (subject: Subject, active: number, durationMs: number): Promise<TurnRunResult & { cpu: Record<string, number | string> }> => {
      const before = await storeCounts(subject);
      const gcBefore = subject === "bot" ? await botGcMs(bot) : undefined;
      const cpu = new CpuMeter({ subject: pids[subject], double: process.pid });
      const requests = new RequestMix(hs, userIds[subject]);
      const result = await drivers[subject].run(rooms[subject].slice(0, active), { durationMs });
      const cpuFigures = { ...cpu.read(result.turns), ...requests.read(result.turns) };
      const after = await storeCounts(subject);
      const gc = gcBefore ? gcFigures(await botGcMs(bot), gcBefore, result.turns) : {};
      const per = (n: number): number => round(n / Math.max(1, result.turns), 3);
      const writes: Record<string, number> = before && after ? { storeWritesPerTurn: per(after.writes - before.writes), commitsPerTurn: per(after.commits - before.commits),
        storeReadsPerTurn: per(after.reads - before.reads) } : {};
      return { ...result, cpu: { ...cpuFigures, ...writes, ...gc } };
    };
    /** How the subject took its transactions in: the double pushes them one at a time, as Synapse does. */
    const transactions = (r: TurnRunResult): Record<string, number> => {
      const answer = summarize(r.transactionAnswerMs);
      const events = r.eventsPerTransaction.reduce((a, b) => a + b, 0);
      return { txnAnswerP50Ms: answer.p50, txnAnswerP99Ms: answer.p99, eventsPerTxn: round(events / Math.max(1, r.eventsPerTransaction.length), 1) };
    };

    if (!opts.only || opts.only.has("latency")) {
      for (const active of opts.activeSets) {
        const got: Partial<Record<Subject, ReturnType<typeof summarize>>> = {};
        for (const subject of ["floor", "bot"] as const) {
          const r = await measure(subject, active, opts.latencyMs(active));
          const s = summarize(r.latencies);
          const e2e = summarize(r.endToEnd);
          got[subject] = s;
          figure("turn-latency", { subject, activeRooms: active, turns: r.turns, p50Ms: s.p50, p99Ms: s.p99, meanMs: s.mean, maxMs: s.max,
            postToReplyP50Ms: e2e.p50, postToReplyP99Ms: e2e.p99, turnsPerSec: round(r.turns / (r.elapsedMs / 1000), 0), ...transactions(r), ...r.cpu });
        }
        const b = got.bot;
        const f = got.floor;
        if (b && f) {
          figure("turn-latency-added", { activeRooms: active, p50AddedMs: round(b.p50 - f.p50), p99AddedMs: round(b.p99 - f.p99),
            targetP50AddedMs: 2, targetP99AddedMs: 10 });
        }
      }
    }

    if (!opts.only || opts.only.has("throughput")) {
      for (const subject of ["floor", "bot"] as const) {
        const r = await measure(subject, opts.rooms, opts.throughputMs);
        const s = summarize(r.latencies);
        const full = r.perSecond.slice(0, Math.floor(opts.throughputMs / 1000)); // whole seconds while loaded
        figure("throughput", { subject, activeRooms: opts.rooms, seconds: round(r.elapsedMs / 1000, 1), turns: r.turns,
          turnsPerSec: round(r.turns / (r.elapsedMs / 1000), 0), slowestSecond: Math.min(...full), fastestSecond: Math.max(...full),
          p50Ms: s.p50, p99Ms: s.p99, rssMb: rssMb(pids[subject]), target: subject === "bot" ? 2000 : undefined, ...transactions(r), ...r.cpu });
      }
    }
    drivers.bot.close();
    drivers.floor.close();
  } finally {
    await floor.stop().catch(() => undefined);
    await stopBot?.().catch((e: unknown) => note(`bot stop: ${String(e)}`));
    await agent.close();
    await hs.close();
    install.remove();
  }
}
