// `npm run bench`: every figure of issue 10 in one run, on loopback. Prints one JSON line per figure on stdout
// (progress on stderr); never passes or fails on a figure (exit code 1 only when a benchmark could not run).
//   BENCH_ONLY=latency,throughput,rooms,streaming,store,backends   run a subset (fanout: the rooms' fan-outs only)
//   BENCH_ONLY=sizing                      the shared store's sizing (bench/store-sizing.ts): only when named
//   BENCH_SCALE=0.2                        shorter phases and fewer rooms, for trying the scripts out
//   BENCH_BOT_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"   node arguments for the bot process
//   BENCH_ACTIVE=1                         the latency phase with these active-room counts only (comma-separated)
//   BENCH_HEAP_SNAPSHOTS=/tmp/heap         heap snapshots of the bot after each memory pass (bench/heap-summary.mjs)
import { figure, machine, note } from "./support/figures";
import { roomBenchmarks } from "./rooms";
import { streamingBenchmarks } from "./streaming";
import { storeGrowthBenchmarks } from "./store-growth";
import { turnBenchmarks } from "./turns";
import { storeBackendBenchmarks } from "./store-backends";
import { storeSizingBenchmarks } from "./store-sizing";

async function main(): Promise<void> {
  const only = process.env["BENCH_ONLY"] ? new Set(process.env["BENCH_ONLY"].split(",").map((s) => s.trim())) : undefined;
  const scale = Number(process.env["BENCH_SCALE"] ?? "1");
  const nodeArgs = (process.env["BENCH_BOT_NODE_ARGS"] ?? "").split(" ").filter((a) => a !== "");
  // BENCH_BOT_ENV='{"STORE_URL":"sqlite://:memory:"}': extra environment for the bot (experiments only).
  const botEnv = JSON.parse(process.env["BENCH_BOT_ENV"] ?? "{}") as Record<string, string>;
  const scaled = (n: number): number => Math.max(1, Math.round(n * scale));
  figure("machine", { ...machine(), scale });
  const startedAt = Date.now();
  if (!only || only.has("latency") || only.has("throughput")) {
    const rooms = scaled(1000);
    await turnBenchmarks({
      rooms, nodeArgs,
      activeSets: process.env["BENCH_ACTIVE"] ? process.env["BENCH_ACTIVE"].split(",").map(Number) : [...new Set([1, scaled(100), rooms])],
      latencyMs: (active) => scaled(active >= 1000 ? 8000 : active >= 100 ? 5000 : 4000),
      throughputMs: scaled(30_000), ...(only ? { only } : {}), botEnv,
    });
  }
  if (!only || only.has("rooms") || only.has("fanout")) {
    const rooms = scaled(10_000);
    await roomBenchmarks({ rooms, memoryPasses: !only || only.has("rooms"), fanouts: [...new Set([scaled(1000), rooms])], fanoutTimeoutMs: 120_000, memoryBatch: scaled(1000), nodeArgs, botEnv,
      ...(process.env["BENCH_HEAP_SNAPSHOTS"] ? { heapSnapshotDir: process.env["BENCH_HEAP_SNAPSHOTS"] } : {}) });
  }
  if (!only || only.has("streaming")) {
    await streamingBenchmarks({ answers: scaled(3), words: scaled(600), wordsPerSecond: 60, nodeArgs, botEnv });
  }
  if (!only || only.has("store")) await storeGrowthBenchmarks({ events: scaled(100_000), days: 8 });
  if (!only || only.has("backends")) {
    await storeBackendBenchmarks({ rooms: scaled(100), active: scaled(20), latencyMs: scaled(4000), throughputMs: scaled(10_000), nodeArgs });
  }
  if (only?.has("sizing")) {
    await storeSizingBenchmarks({ rooms: scaled(1000), turnsPerRoom: scaled(5), idleMs: scaled(30_000), nodeArgs });
  }
  note(`done in ${Math.round((Date.now() - startedAt) / 1000)} s`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
