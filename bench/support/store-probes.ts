// What a bot's store costs on the server, read from the server itself (bench/store-sizing.ts): entries and bytes of
// the bot's data, the statements (PostgreSQL: transactions of its database, each autocommit statement is one) or
// commands (Redis: MONITOR, filtered to the store's database) the bot sends while something runs, and its
// connections. Only the bot's database is counted, so other work on the same server does not blur the figures.
import { createClient } from "@redis/client";

export interface StoreSnapshot {
  /** Rows of the keyv table (PostgreSQL) or keys of the database (Redis), the lease's included. */
  entries: number;
  /** PostgreSQL: pg_total_relation_size of keyv and mab_lease (heap, indexes, TOAST); Redis: MEMORY USAGE summed over keys. */
  bytes: number;
  /** The bot's connections to the server now. */
  connections: number;
  /**
   * Entries and their bytes by the store namespace their key starts with (`journal`, `outbox`, …): PostgreSQL the rows'
   * own bytes (pg_column_size), Redis MEMORY USAGE. The lease is left out.
   */
  namespaces: Record<string, { entries: number; bytes: number }>;
  /** PostgreSQL: the live rows' own bytes (pg_column_size), without pages, dead rows and indexes. */
  liveBytes?: number;
}

/** The namespace of a stored key: its first `:`-separated part (after keyv's own `keyv:` prefix, if any). */
export function namespaceOf(key: string): string {
  const parts = key.split(":");
  return (parts[0] === "keyv" && parts.length > 2 ? parts[1] : parts[0]) ?? "";
}

export interface StoreCount {
  /** PostgreSQL: transactions committed or rolled back (≈ statements: the bot runs each on its own); Redis: commands. */
  statements: number;
  /** PostgreSQL: rows inserted, updated and deleted. */
  detail?: number;
  /** The most connections seen while it ran (sampled every 250 ms). */
  peakConnections: number;
  /** How long the counted window was (PostgreSQL: it includes waiting for the server's counters), ms. */
  windowMs: number;
}

export interface StoreProbe {
  snapshot(): Promise<StoreSnapshot>;
  /** Runs `during` and counts what the bot sent to the store meanwhile. */
  count<T>(during: () => Promise<T>): Promise<{ result: T } & StoreCount>;
  close(): Promise<void>;
}

type Row = Record<string, unknown>;
interface PgClient {
  connect(): Promise<void>;
  query(sql: string): Promise<{ rows: Row[] }>;
  end(): Promise<void>;
}

const PG_STATS = `SELECT xact_commit + xact_rollback AS xacts, tup_inserted + tup_updated + tup_deleted AS tuples, numbackends
  FROM pg_stat_database WHERE datname = current_database()`;

/** Samples `read` every 250 ms while `during` runs; resolves with its result and the largest value read. */
async function withPeak<T>(read: () => Promise<number>, during: () => Promise<T>): Promise<{ result: T; peak: number }> {
  let peak = await read();
  let running = true;
  const sampler = (async () => {
    while (running) {
      await new Promise((r) => setTimeout(r, 250));
      peak = Math.max(peak, await read());
    }
  })();
  try {
    return { result: await during(), peak };
  } finally {
    running = false;
    await sampler;
  }
}

export class PostgresProbe implements StoreProbe {
  /** Statements this probe ran itself on the database (subtracted from the counts). */
  private own = 0;

  private constructor(private readonly client: PgClient) {}

  static async open(url: string): Promise<PostgresProbe> {
    const { Client } = require("pg") as { Client: new (o: { connectionString: string }) => PgClient };
    const client = new Client({ connectionString: url });
    await client.connect();
    return new PostgresProbe(client);
  }

  private async query(sql: string): Promise<Row> {
    this.own += 1;
    return (await this.client.query(sql)).rows[0] ?? {};
  }

  async snapshot(): Promise<StoreSnapshot> {
    const row = await this.query(`SELECT (SELECT count(*) FROM keyv) + (SELECT count(*) FROM mab_lease) AS entries,
      pg_total_relation_size('keyv') + pg_total_relation_size('mab_lease') AS bytes,
      (SELECT coalesce(sum(pg_column_size(k.*)), 0) FROM keyv k) AS live,
      (SELECT numbackends FROM pg_stat_database WHERE datname = current_database()) AS backends,
      (SELECT json_object_agg(ns, json_build_object('entries', n, 'bytes', b)) FROM (SELECT regexp_replace(k.key, '^(keyv:)?([^:]*):.*$', '\\2') AS ns,
        count(*) AS n, sum(pg_column_size(k.*)) AS b FROM keyv k GROUP BY 1) g) AS namespaces`);
    const namespaces = { ...(row["namespaces"] as Record<string, { entries: number; bytes: number }> | null) };
    return { entries: Number(row["entries"]), bytes: Number(row["bytes"]), liveBytes: Number(row["live"]),
      connections: Number(row["backends"]) - 1, namespaces };
  }

  /**
   * The database's transaction and row counters (pg_stat_database) once every backend has reported: a backend reports
   * its counts when it goes idle, but at most once a second, and else 10 s later (PGSTAT_IDLE_INTERVAL, PostgreSQL
   * 15), so they are complete 11 s after the bot's last statement. `own`: this probe's statements before the read.
   */
  private async settled(): Promise<{ xacts: number; tuples: number; own: number; at: number }> {
    await new Promise((r) => setTimeout(r, 11_000));
    const own = this.own;
    const row = await this.query(PG_STATS);
    return { xacts: Number(row["xacts"]), tuples: Number(row["tuples"]), own, at: Date.now() };
  }

  async count<T>(during: () => Promise<T>): Promise<{ result: T } & StoreCount> {
    const before = await this.settled();
    const { result, peak } = await withPeak(async () => Number((await this.query(PG_STATS))["numbackends"]) - 1, during);
    const after = await this.settled();
    return { result, statements: after.xacts - before.xacts - (after.own - before.own), detail: after.tuples - before.tuples,
      peakConnections: peak, windowMs: after.at - before.at };
  }

  async close(): Promise<void> {
    await this.client.end();
  }
}

const redisClient = (url: string) => createClient({ url });
type RedisClient = ReturnType<typeof redisClient>;

export class RedisProbe implements StoreProbe {
  private constructor(private readonly client: RedisClient, private readonly serverUrl: string, private readonly db: number,
    /** This probe's own address (its CLIENT LIST and MEMORY USAGE are not the bot's). */
    private readonly ownAddr: string) {}

  /** `url`: redis://host:port/<db>, the bot's STORE_URL. */
  static async open(url: string): Promise<RedisProbe> {
    const parsed = new URL(url);
    const db = Number(parsed.pathname.slice(1) || "0");
    const client = redisClient(url);
    client.on("error", () => undefined);
    await client.connect();
    parsed.pathname = "/0";
    const info = String(await client.sendCommand(["CLIENT", "INFO"]));
    return new RedisProbe(client, parsed.toString(), db, /\baddr=(\S+)/.exec(info)?.[1] ?? "");
  }

  /** The other clients on the bot's database (CLIENT LIST `db=`), this probe not counted. */
  private async connections(): Promise<number> {
    const list = await this.client.sendCommand(["CLIENT", "LIST"]);
    return String(list).split("\n").filter((line) => line.includes(` db=${this.db} `)).length - 1;
  }

  async snapshot(): Promise<StoreSnapshot> {
    let entries = 0;
    let bytes = 0;
    const namespaces: Record<string, { entries: number; bytes: number }> = {};
    for await (const keys of this.client.scanIterator({ COUNT: 1000 })) {
      for (const key of keys) {
        const used = Number(await this.client.sendCommand(["MEMORY", "USAGE", key, "SAMPLES", "0"]) ?? 0);
        entries += 1;
        bytes += used;
        if (key.startsWith("mab-lease")) continue;
        const ns = namespaceOf(key);
        const counted = (namespaces[ns] ??= { entries: 0, bytes: 0 });
        counted.entries += 1;
        counted.bytes += used;
      }
    }
    return { entries, bytes, connections: await this.connections(), namespaces };
  }

  async count<T>(during: () => Promise<T>): Promise<{ result: T } & StoreCount> {
    // MONITOR on a connection of its own: every command of the server, `<time> [<db> <client address>|lua] "CMD" …`.
    const monitor = redisClient(this.serverUrl);
    monitor.on("error", () => undefined);
    await monitor.connect();
    let statements = 0;
    const mine = new RegExp(`^\\S+ \\[${this.db} (\\S+)\\]`);
    await monitor.monitor((line: string) => {
      const from = mine.exec(line)?.[1];
      if (from !== undefined && from !== this.ownAddr && from !== "lua") statements += 1;
    });
    const startedAt = Date.now();
    try {
      const { result, peak } = await withPeak(() => this.connections(), during);
      await new Promise((r) => setTimeout(r, 200)); // the monitor stream's last lines
      return { result, statements, peakConnections: peak, windowMs: Date.now() - startedAt };
    } finally {
      await monitor.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
