// Store growth: 100,000 inbound events over 8 simulated days through the parts that write the store in production
// (appservice transactions over HTTP into AppserviceServer, the journal, an answer per event through the outbox,
// the journal's "done" marker), on a real sqlite file whose clock is simulated, with the sweep at its production
// settings (STORE_SWEEP_INTERVAL_MS, STORE_SWEEP_BATCH defaults) run at every interval of simulated time. Once
// with the sweep and once without: rows (total and live) and bytes on disk at the end of each day.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import pino from "pino";
import { TIMING_VARIABLES } from "../src/config/variables";
import { AppserviceServer, type AppserviceTxnRecord } from "../src/matrix/appservice-server";
import type { RoomEvent } from "../src/matrix/events";
import { journalStores } from "../src/app/journal-stores";
import { Journal } from "../src/matrix/journal";
import { Outbox } from "../src/outbox";
import { openStore, StoreSweeper } from "../src/store";
import { figure, note, round } from "./support/figures";

const DAY_MS = 24 * 3600 * 1000;
const HS_TOKEN = randomBytes(16).toString("hex");
const silent = pino({ level: "silent" });

export interface StoreGrowthOptions {
  events: number;
  days: number;
  /** Events in flight at once (each its own transaction, as a quiet homeserver sends them). */
  concurrency?: number;
}

function productionDefault(name: string): number {
  const variable = TIMING_VARIABLES.find((t) => t.name === name);
  if (!variable) throw new Error(`no variable ${name}`);
  return variable.defaultValue;
}

export async function storeGrowthBenchmarks(opts: StoreGrowthOptions): Promise<void> {
  for (const sweep of [true, false]) await run({ ...opts, sweep });
}

async function run(opts: StoreGrowthOptions & { sweep: boolean }): Promise<void> {
  const intervalMs = productionDefault("STORE_SWEEP_INTERVAL_MS");
  const batch = productionDefault("STORE_SWEEP_BATCH");
  const dir = mkdtempSync(path.join(tmpdir(), "mab-bench-store-"));
  const file = path.join(dir, "bot.sqlite");
  let now = Date.UTC(2026, 0, 1);
  const startedAt = Date.now();
  // synchronous=NORMAL: fewer fsyncs, the same bytes on disk (the figure is the size, not the speed).
  const store = await openStore(`sqlite://${file}`, { logger: silent, clock: () => now, sqliteSynchronous: "normal" });
  const journal = new Journal(journalStores(store), silent);
  let sent = 0;
  const outbox = new Outbox({ store, log: silent, concurrency: 64, now: () => now,
    sender: { sendEvent: async () => ({ ok: true, eventId: `$reply${(sent += 1)}`, attempts: 1 }) } });
  await outbox.recover();
  const server = new AppserviceServer({ host: "127.0.0.1", port: 0, hsToken: HS_TOKEN, botUserId: "@bot:bench.example",
    userNamespaceRegexes: [], bodyLimitBytes: 10 * 1024 * 1024, txnStore: store.namespace<AppserviceTxnRecord>("appservice-txn"),
    onBatch: async (items) => void (await journal.record(items.flatMap((i) => (i.kind === "event" ? [i.event] : [])))), log: silent });
  const { port } = await server.start();
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency ?? 100 });
  const sweeper = new StoreSweeper(store, { intervalMs, batch, log: silent });

  const stepMs = (opts.days * DAY_MS) / opts.events;
  const concurrency = opts.concurrency ?? 100;
  let nextSweep = now + intervalMs;
  let nextDay = now + DAY_MS;
  let day = 0;
  let swept = 0;
  const handle = async (n: number): Promise<void> => {
    const event = syntheticEvent(n, now);
    await putTransaction(port, agent, `bench-${n}`, { events: [event] });
    const reply = await outbox.send(event.room_id, "m.room.message",
      { msgtype: "m.text", body: `An answer of ordinary length to message ${n}, as an agent would give it.` }, `mab.r.${n}`);
    if (!reply.ok) throw new Error(`reply ${n} not sent`);
    await journal.complete(event.room_id, event.event_id);
  };
  for (let n = 0; n < opts.events; n += concurrency) {
    await Promise.all(Array.from({ length: Math.min(concurrency, opts.events - n) }, (_, i) => handle(n + i)));
    now += stepMs * concurrency;
    while (opts.sweep && now >= nextSweep) {
      swept += await sweeper.sweep();
      nextSweep += intervalMs;
    }
    while (now >= nextDay) {
      day += 1;
      nextDay += DAY_MS;
      const rows = await store.countRows();
      figure("store-growth-day", { sweep: opts.sweep, day, events: Math.min(opts.events, n + concurrency),
        rows: rows?.total, liveRows: rows?.live, fileBytes: bytesOf(file), walBytes: bytesOf(`${file}-wal`) });
    }
  }
  await server.stop();
  await outbox.drain();
  // What a start costs with this many entries kept: the journal's and the outbox's recovery (nothing is pending).
  const recoveryStartedAt = process.hrtime.bigint();
  await new Journal(journalStores(store), silent).unfinished();
  await new Outbox({ store, log: silent, concurrency: 1, now: () => now, sender: { sendEvent: async () => ({ ok: true, eventId: "$x", attempts: 1 }) } }).recover();
  const recoveryMs = Number(process.hrtime.bigint() - recoveryStartedAt) / 1e6;
  const rows = await store.countRows();
  await store.close(); // the last connection closing checkpoints the WAL into the file and removes it
  const bytes = bytesOf(file);
  figure("store-growth", {
    sweep: opts.sweep, events: opts.events, days: opts.days, sweepIntervalMs: intervalMs, sweepBatch: batch,
    rows: rows?.total, liveRows: rows?.live, expiredRows: (rows?.total ?? 0) - (rows?.live ?? 0), swept, fileBytes: bytes,
    mb: round(bytes / 1024 / 1024, 1), bytesPerEvent: round(bytes / opts.events, 0), recoveryMs: round(recoveryMs, 1), runSeconds: round((Date.now() - startedAt) / 1000, 0),
  });
  agent.destroy();
  rmSync(dir, { recursive: true, force: true });
  note(`store growth (${opts.sweep ? "with" : "without"} the sweep) done`);
}

/** One message of one of 50 people in one of 200 rooms. */
function syntheticEvent(n: number, ts: number): RoomEvent {
  return {
    event_id: `$${Buffer.from(`bench-event-${n}`).toString("base64url").padEnd(43, "A").slice(0, 43)}`,
    room_id: `!room${n % 200}AbCdEfGhIj:bench.example`, sender: `@person${n % 50}:bench.example`, type: "m.room.message",
    origin_server_ts: ts, content: { msgtype: "m.text", body: `Message number ${n}: a question of ordinary length for the agent?` },
  };
}

function putTransaction(port: number, agent: http.Agent, txnId: string, body: unknown): Promise<void> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method: "PUT", agent, path: `/_matrix/app/v1/transactions/${txnId}`,
      headers: { authorization: `Bearer ${HS_TOKEN}`, "content-type": "application/json", "content-length": Buffer.byteLength(text) } }, (res) => {
      res.resume();
      res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`transaction ${txnId}: HTTP ${res.statusCode}`))));
    });
    req.on("error", reject);
    req.end(text);
  });
}

/** A file's size; 0 when it does not exist (no WAL yet, or after the last close). */
function bytesOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}
