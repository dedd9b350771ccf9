// The SQLite adapter alone: the store's writes and reads of one chat turn at one active room (the 7 commits and 4
// reads listed in bench/README.md, "The SQLite adapter's cost per statement"), issued one after the other as the turn
// issues them, on a file with the production pragmas (WAL, synchronous=FULL) and in memory. Prints the process's CPU
// (user and sys, main thread and thread pool together) and the wall time per turn: what the adapter costs per
// statement and per commit, without the rest of the bot.
//
//   npx tsc -p tsconfig.bench.json && node dist-bench/bench/sqlite-statements.js [turns]
// (SQLITE_BENCH_PRAGMAS='["PRAGMA …"]' runs those on the connection first, to try a pragma.)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pino from "pino";
import { createAdapter } from "../src/store/adapters";
import { figure, round } from "./support/figures";

interface TurnAdapter {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<unknown>;
  delete(key: string): Promise<boolean>;
  insertIfAbsent(entries: Array<{ key: string; value: string }>): Promise<boolean[]>;
  query(sql: string): Promise<unknown>;
  disconnect(): Promise<void>;
}

const value = (i: number, what: string): string => JSON.stringify({ value: { what, i, text: "x".repeat(240) }, expires: null });

/** One turn's store traffic at one active room, in the order the bot issues it. */
async function turn(store: TurnAdapter, i: number): Promise<void> {
  await Promise.all([store.insertIfAbsent([{ key: `journal:e${i}`, value: value(i, "event") }]), store.set(`journal-pending:e${i}`, value(i, "p"))]);
  await Promise.all([store.delete(`journal-pending:e${i - 1}`), store.set(`journal:e${i - 1}`, value(i, "done"))]);
  await store.set(`appservice-txn:t${i}`, value(i, "txn"));
  await store.get(`live-messages:placeholder${i}`);
  await store.set("room-memory:r0", value(i, "answer"));
  await store.set("run-batches:r0", value(i, "run"));
  await store.get(`live-messages:m${i}`);
  await store.get(`live-messages:m${i}`);
  await Promise.all([store.set(`outbox-pending:m${i}`, value(i, "pending")), store.set(`outbox:m${i}`, value(i, "message"))]);
  await store.get(`outbox:m${i}`);
  await Promise.all([store.delete(`outbox-pending:m${i}`), store.set(`outbox:m${i}`, value(i, "sent"))]);
}

async function measure(file: string, turns: number, pragmas: string[]): Promise<void> {
  const adapter = (await createAdapter({ backend: "sqlite", file, url: `sqlite://${file}` },
    { logger: pino({ level: "silent" }), sqliteBusyTimeoutMs: 5000 })) as unknown as TurnAdapter;
  try {
    for (const pragma of pragmas) await adapter.query(pragma);
    for (let i = 0; i < Math.min(200, turns); i++) await turn(adapter, -1 - i); // warm-up
    const cpu = process.cpuUsage();
    const started = performance.now();
    for (let i = 1; i <= turns; i++) await turn(adapter, i);
    const wallMs = performance.now() - started;
    const used = process.cpuUsage(cpu);
    figure("sqlite-adapter-turn", { store: file === ":memory:" ? "memory" : "file", pragmas: pragmas.join("; ") || undefined, turns,
      cpuUsPerTurn: round((used.user + used.system) / turns, 0), userUsPerTurn: round(used.user / turns, 0),
      sysUsPerTurn: round(used.system / turns, 0), wallUsPerTurn: round((wallMs * 1000) / turns, 0) });
  } finally {
    await adapter.disconnect();
  }
}

async function main(): Promise<void> {
  const turns = Number(process.argv[2] ?? 2000);
  const pragmas = JSON.parse(process.env["SQLITE_BENCH_PRAGMAS"] ?? "[]") as string[];
  const dir = mkdtempSync(path.join(tmpdir(), "mab-sqlite-statements-"));
  try {
    await measure(":memory:", turns, pragmas);
    await measure(path.join(dir, "store.sqlite"), turns, pragmas);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exitCode = 1;
  });
}
