// The store backends a test runs on: SQLite always, PostgreSQL and Redis when their servers answer (started by
// scripts/services.sh; their URLs from MAB_TEST_POSTGRES_URL / MAB_TEST_REDIS_URL, else the script's defaults).
// A backend whose server does not answer is skipped, with a title that says how to start it; with
// REQUIRE_SERVICES=1 (CI, .ci/run) it fails instead. Each test gets a store of its own: a fresh file, a fresh
// PostgreSQL database, a fresh Redis database number; dropped after the test.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createClient } from "@redis/client";

export type BackendName = "sqlite" | "postgres" | "redis";
export const ALL_BACKENDS: readonly BackendName[] = ["sqlite", "postgres", "redis"];

const SERVER_URLS: Record<"postgres" | "redis", string> = {
  postgres: process.env["MAB_TEST_POSTGRES_URL"] || "postgres://mab:mab-services@127.0.0.1:25432/mab",
  redis: process.env["MAB_TEST_REDIS_URL"] || "redis://127.0.0.1:26379",
};
const START_HINT = "start the servers with scripts/services.sh start";

/** Whether each server accepts a TCP connection (probed once per worker process, synchronously: tests are declared synchronously). */
function reachable(): Record<"postgres" | "redis", boolean> {
  const cached = process.env["MAB_TEST_BACKENDS_REACHABLE"];
  if (cached) return JSON.parse(cached) as Record<"postgres" | "redis", boolean>;
  const targets = Object.entries(SERVER_URLS).map(([name, url]) => {
    const u = new URL(url);
    return { name, host: u.hostname, port: Number(u.port) };
  });
  const script = `const net=require("node:net");const t=${JSON.stringify(targets)};Promise.all(t.map(x=>new Promise(r=>{const s=net.connect(x.port,x.host);s.setTimeout(2000);s.on("connect",()=>{s.destroy();r([x.name,true])});s.on("error",()=>r([x.name,false]));s.on("timeout",()=>{s.destroy();r([x.name,false])})}))).then(e=>process.stdout.write(JSON.stringify(Object.fromEntries(e))))`;
  const out = execFileSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 10_000 });
  process.env["MAB_TEST_BACKENDS_REACHABLE"] = out;
  return JSON.parse(out) as Record<"postgres" | "redis", boolean>;
}

/**
 * The backends the end-to-end files of the backend matrix run on in this tier: SQLite in `npm test`; PostgreSQL and
 * Redis in `npm run test:backends` (jest.backends.config.js sets MAB_TEST_TIER=backends). The store's unit and
 * contract tests run on all three in `npm test`.
 */
export function e2eBackends(): readonly BackendName[] {
  return process.env["MAB_TEST_TIER"] === "backends" ? ["postgres", "redis"] : ["sqlite"];
}

/** Whether `backend`'s server answers (sqlite: always). */
export function backendReachable(backend: BackendName): boolean {
  return backend === "sqlite" || reachable()[backend];
}

/** A store of a test's own on `backend`: its STORE_URL, and how to remove it. */
export interface TestStore {
  backend: BackendName;
  url: string;
  drop(): Promise<void>;
}

/** A fresh, empty store on `backend`. `dir` (made if missing) holds the sqlite file. */
export async function freshStore(backend: BackendName, dir?: string): Promise<TestStore> {
  switch (backend) {
    case "sqlite": {
      const home = dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "mab-store-"));
      const file = path.join(home, "bot.sqlite");
      return { backend, url: `sqlite://${file}`, drop: async () => {
        if (!dir) fs.rmSync(home, { recursive: true, force: true });
      } };
    }
    case "postgres": {
      const name = `mab_t_${process.pid}_${randomBytes(6).toString("hex")}`;
      await postgresAdmin(`CREATE DATABASE ${name}`);
      const url = new URL(SERVER_URLS.postgres);
      url.pathname = `/${name}`;
      return { backend, url: url.toString(), drop: () => postgresAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
    }
    case "redis": {
      const db = await withRedis(SERVER_URLS.redis, async (client) => {
        // Database 0 keeps the counter; each test takes the next of 1..999 (scripts/services.sh: --databases 1000).
        const n = await client.incr("mab-test:next-db");
        return 1 + ((n - 1) % 999);
      });
      const url = `${SERVER_URLS.redis}/${db}`;
      await withRedis(url, (client) => client.flushDb());
      return { backend, url, drop: () => withRedis(url, (client) => client.flushDb()).then(() => undefined) };
    }
  }
}

async function postgresAdmin(sql: string): Promise<void> {
  await withPostgres(SERVER_URLS.postgres, (query) => query(sql));
}

/** One PostgreSQL session on `url` for `use` (its statements share the session's settings), closed afterwards. */
export async function withPostgres<T>(url: string, use: (query: (sql: string) => Promise<Array<Record<string, unknown>>>) => Promise<T>): Promise<T> {
  const { Client } = require("pg") as { Client: new (o: { connectionString: string }) => {
    connect(): Promise<void>; query(sql: string): Promise<{ rows: Array<Record<string, unknown>> }>; end(): Promise<void>; } };
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await use(async (sql) => (await client.query(sql)).rows);
  } finally {
    await client.end();
  }
}

type RedisClient = ReturnType<typeof redisClient>;
const redisClient = (url: string) => createClient({ url });

export async function withRedis<T>(url: string, use: (client: RedisClient) => Promise<T>): Promise<T> {
  const client = redisClient(url);
  client.on("error", () => undefined); // reported by the command that fails
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

/** Every key a test store holds, expired or not, sorted (by UTF-8 bytes, as sqlite and the "C" collation do). */
export async function rawKeys(store: Pick<TestStore, "backend" | "url">): Promise<string[]> {
  let keys: string[];
  if (store.backend === "postgres") {
    keys = await withPostgres(store.url, async (query) =>
      (await query("SELECT key, full_key FROM keyv")).map((r) => (typeof r["full_key"] === "string" ? String(JSON.parse(r["full_key"])) : String(r["key"]))));
  } else if (store.backend === "redis") {
    keys = await withRedis(store.url, (client) => client.keys("*"));
  } else {
    const { storeKeys } = await import("./store-rows");
    keys = await storeKeys(path.dirname(store.url.slice("sqlite://".length)));
  }
  return keys.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** `it(title, fn)` when `backend`'s server answers; else skipped (failing under REQUIRE_SERVICES=1), saying how to start it. */
export function itOnBackend(backend: BackendName, title: string, fn: () => Promise<void>, timeoutMs?: number): void {
  if (backend === "sqlite" || reachable()[backend]) {
    it(title, fn, timeoutMs);
    return;
  }
  const where = new URL(SERVER_URLS[backend]).host;
  if (process.env["REQUIRE_SERVICES"] === "1") {
    it(title, () => {
      throw new Error(`the ${backend} server at ${where} is not reachable and REQUIRE_SERVICES=1: ${START_HINT}`);
    });
  } else {
    it.skip(`${title} (${backend}: no server at ${where}; ${START_HINT})`, () => undefined);
  }
}

/**
 * `describe(title [backend], body)` once per backend of `backends` (default all three). A backend whose server
 * is not reachable: one skipped test saying how to start it, or with REQUIRE_SERVICES=1 one failing test.
 */
export function describeEachBackend(title: string, body: (backend: BackendName) => void, backends: readonly BackendName[] = ALL_BACKENDS): void {
  for (const backend of backends) {
    describe(`${title} [${backend}]`, () => {
      if (backend === "sqlite" || reachable()[backend]) {
        body(backend);
        return;
      }
      const where = new URL(SERVER_URLS[backend]).host;
      if (process.env["REQUIRE_SERVICES"] === "1") {
        it(`needs the ${backend} server at ${where} (REQUIRE_SERVICES=1)`, () => {
          throw new Error(`the ${backend} server at ${where} is not reachable and REQUIRE_SERVICES=1: ${START_HINT}`);
        });
      } else {
        it.skip(`${backend}: no server at ${where}; ${START_HINT}`, () => undefined);
      }
    });
  }
}

/** `describeEachBackend` over this tier's end-to-end backends (`e2eBackends`). */
export function describeEachE2eBackend(title: string, body: (backend: BackendName) => void): void {
  describeEachBackend(title, body, e2eBackends());
}
