import * as fs from "node:fs";
import * as path from "node:path";
import type { KeyvStoreAdapter } from "keyv";
import type { Logger } from "pino";
import { ensurePrivateFile, PRIVATE_DIR_MODE, tightenFiles } from "../util/private-files";
import { StoreConfigError } from "./errors";
import { CoalescingKeyvSqlite } from "./sqlite-adapter";
import type { ParsedStoreUrl } from "./store-url";

export interface AdapterOptions {
  logger: Logger;
  /** How long SQLite waits on a locked database before failing a query. */
  sqliteBusyTimeoutMs: number;
  /** How long a redis connection attempt may take before a statement fails. Default 5000. */
  connectTimeoutMs?: number;
  /**
   * SQLite `synchronous` in WAL mode. "full" (default): one fsync per commit, so what the bot acknowledged (an
   * appservice transaction answered 200 after journaling) survives a power loss too. "normal": a commit is
   * written to the WAL without an fsync of its own; a process crash (SIGKILL included) loses nothing committed,
   * but a power loss or OS crash may lose the last commits (faster: see bench/README.md).
   */
  sqliteSynchronous?: "normal" | "full";
  /** The clock entry expiry is measured on (sqlite). Default Date.now; tests and benchmarks simulate days. */
  now?: () => number;
}

/** Our sqlite and postgres adapters: expired entries are deleted by the store's sweep, rows can be counted. */
export interface ExpiringAdapter {
  deleteExpired(limit: number): Promise<number>;
  countRows(): Promise<{ total: number; live: number }>;
}

/** The adapter as an ExpiringAdapter, if it is one (redis expires entries itself). */
export function expiringAdapter(adapter: KeyvStoreAdapter): ExpiringAdapter | undefined {
  const candidate = adapter as Partial<ExpiringAdapter>;
  return typeof candidate.deleteExpired === "function" && typeof candidate.countRows === "function" ? (adapter as unknown as ExpiringAdapter) : undefined;
}

/** Creates the one adapter (one connection / pool) that every namespace of the store shares. */
export async function createAdapter(parsed: ParsedStoreUrl, opts: AdapterOptions): Promise<KeyvStoreAdapter> {
  switch (parsed.backend) {
    case "sqlite":
      return openSqlite(parsed.file, opts);
    case "postgres": {
      // Connects lazily (the store's health check says whether it works); keys of any length fit.
      const { ExpiringKeyvPostgres } = loadAdapterModule<typeof import("./postgres-adapter")>("./postgres-adapter", "@keyv/postgres", "postgres://");
      return logErrors(new ExpiringKeyvPostgres({ uri: parsed.url, logger: opts.logger, ...(opts.now ? { now: opts.now } : {}) }), "postgres", opts.logger);
    }
    case "redis": {
      const { StoreKeyvRedis } = loadAdapterModule<typeof import("./redis-adapter")>("./redis-adapter", "@keyv/redis", "redis://");
      return logErrors(new StoreKeyvRedis(parsed.url, opts.connectTimeoutMs ?? 5000), "redis", opts.logger);
    }
  }
}

/** Adapters emit connection-level "error" events; log them (operations themselves reject). */
function logErrors(adapter: KeyvStoreAdapter, backend: string, logger: Logger): KeyvStoreAdapter {
  adapter.on("error", (error: unknown) => logger.error({ err: error, backend }, "store adapter error"));
  return adapter;
}

async function openSqlite(file: string, opts: AdapterOptions): Promise<KeyvStoreAdapter> {
  if (file !== ":memory:") {
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
      // The database holds message text: 0600, and SQLite gives its -wal and -shm files the database's mode.
      ensurePrivateFile(file);
      tightenFiles([`${file}-wal`, `${file}-shm`, `${file}-journal`]);
    } catch (error) {
      throw new StoreConfigError(`cannot create the sqlite store ${file} (or its directory): ${describe(error)}`, {
        cause: error,
      });
    }
  }
  let mode: unknown;
  // Listing a namespace is a range of the primary key, 1,000 rows a page (see CoalescingKeyvSqlite.iterator).
  const adapter = new CoalescingKeyvSqlite({ uri: `sqlite://${file}`, busyTimeout: opts.sqliteBusyTimeoutMs }, {
    logger: opts.logger, ...(opts.now ? { now: opts.now } : {}),
    // On its single connection, before the schema migration and anything else: WAL persists in the database file
    // once set; synchronous is per connection, and only meaningful in WAL mode.
    setup: async (query) => {
      const rows = (await query("PRAGMA journal_mode=WAL")) as Array<Record<string, unknown>>;
      mode = rows[0]?.["journal_mode"];
      if (mode === "wal") await query(`PRAGMA synchronous=${opts.sqliteSynchronous === "normal" ? "NORMAL" : "FULL"}`);
    },
  });
  // KeyvSqlite emits "error" (a Node EventEmitter) when it cannot connect; without a listener that
  // would throw from inside its promise chain. whenReady() reports the same failure to us.
  logErrors(adapter, "sqlite", opts.logger);
  try {
    await adapter.whenReady();
  } catch (error) {
    await adapter.disconnect().catch(() => undefined);
    throw new StoreConfigError(`cannot open the sqlite store at ${file}: ${describe(error)}`, { cause: error });
  }
  if (file !== ":memory:" && mode !== "wal") {
    // e.g. a filesystem without shared memory support: it still works, only slower.
    opts.logger.warn({ file, journalMode: mode }, "sqlite store could not switch to WAL journal mode");
  }
  return adapter;
}

/**
 * `require` our adapter module over an adapter package (a dependency, but a trimmed install may lack it); a
 * missing package becomes an install hint.
 */
function loadAdapterModule<T>(module: string, pkg: string, scheme: string): T {
  try {
    return require(module) as T;
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === "MODULE_NOT_FOUND" && describe(error).includes(`'${pkg}'`)) {
      throw new StoreConfigError(
        `STORE_URL uses ${scheme} but the package ${pkg} is not installed; run: npm install ${pkg}`,
        { cause: error },
      );
    }
    throw new StoreConfigError(`cannot load ${pkg} for STORE_URL ${scheme}: ${describe(error)}`, { cause: error });
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
