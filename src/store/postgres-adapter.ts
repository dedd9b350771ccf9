// The PostgreSQL adapter the store uses: @keyv/postgres's, with what the SQLite adapter has (sqlite-adapter.ts):
//   - an `expires` column (ms since the epoch, from keyv's ttl) with a partial index, and deleteExpired() for the
//     store's sweep (sweep.ts); keyv itself drops an expired entry only when the same key is read again;
//   - listing a namespace is a range of the primary key (`key >= 'ns:' AND key < 'ns;'` in the "C" collation),
//     paged by the last key seen, 1,000 rows a page (@keyv/postgres: `LIKE 'ns:%'`, 10 rows a page, and a failed
//     page ends the listing silently: here it rejects);
//   - any key: one longer than MAX_KEY_BYTES or holding a NUL is stored under its first characters plus a SHA-256
//     of it, the whole key in `full_key` (Matrix ids alone may be 255 bytes; a key joins several; an index entry
//     may not exceed ~2.7 kB; text cannot hold NUL);
//   - its own connection pool (@keyv/postgres keeps one pool per process: two stores in one process, e.g.
//     store-copy between two databases, would end each other's);
//   - a delete is one `DELETE … RETURNING` (not a SELECT, then a DELETE);
//   - listOpen(): a namespace's entries without expiry, from a partial index (open-entries.ts).
// Tables that @keyv/postgres made (key VARCHAR(n), value TEXT) are migrated in place when opened.
import { createHash } from "node:crypto";
import { KeyvPostgres } from "@keyv/postgres";
import type { Logger } from "pino";

type Row = Record<string, unknown>;
type Query = (sql: string, values?: unknown[]) => Promise<Row[]>;

interface PgClient {
  query(sql: string, values?: unknown[]): Promise<{ rows: Row[] }>;
}
interface PgPool extends PgClient {
  connect(): Promise<PgClient & { release(): void }>;
  on(event: "error", listener: (error: Error) => void): unknown;
  end(): Promise<void>;
}
type PgPoolClass = new (options: { connectionString: string; max?: number }) => PgPool;

/** Keys longer than this (UTF-8 bytes) are stored hashed (see above). */
export const MAX_KEY_BYTES = 1000;
const KEPT_PREFIX_CHARS = 200;
const PAGE_ROWS = 1000;

/** Each adapter's pool, opened once (the base class calls connect() from its constructor, before our fields exist). */
const pools = new WeakMap<object, { pool: PgPool; ready: Promise<Query> }>();

export interface PostgresAdapterOptions {
  uri: string;
  /** Connections in the pool. */
  poolSize?: number;
  logger?: Logger;
  now?: () => number;
}

export class ExpiringKeyvPostgres extends KeyvPostgres {
  private readonly now: () => number;

  constructor(private readonly options: PostgresAdapterOptions) {
    super({ uri: options.uri, table: "keyv", schema: "public" });
    this.now = options.now ?? Date.now;
    // Every statement (the base class's too) waits for the pool and the schema migration.
    this.query = async (sql: string, values?: unknown[]) => (await this.connect())(sql, values);
  }

  /** Resolves once connected and migrated; rejects when the server cannot be reached or refuses us. */
  async whenReady(): Promise<void> {
    await this.connect();
  }

  override connect(): Promise<Query> {
    let opened = pools.get(this);
    if (!opened) {
      const Pool = (require("pg") as { Pool: PgPoolClass }).Pool;
      const pool = new Pool({ connectionString: this.opts.uri ?? "", max: this.options?.poolSize ?? 10 });
      // An idle connection that breaks (a server restart) emits "error" on the pool: reported, never a crash.
      pool.on("error", (error) => this.emit("error", error));
      opened = { pool, ready: this.migrate(pool) };
      pools.set(this, opened);
    }
    return opened.ready;
  }

  private async migrate(pool: PgPool): Promise<Query> {
    await null; // called from the base class's constructor: our own fields (the logger) are set after this
    const client = await pool.connect(); // one connection: the migration's advisory lock is held by a session
    try {
      await migratePostgresSchema(async (sql, values) => (await client.query(sql, values)).rows, this.options.logger);
    } finally {
      client.release();
    }
    return async (sql, values) => (await pool.query(sql, values)).rows;
  }

  override async get<Value>(key: string): Promise<Value | undefined> {
    const rows = await this.query("SELECT value FROM keyv WHERE key = $1", [storedKey(key)]);
    return rows[0]?.["value"] as Value | undefined;
  }

  override async getMany<Value>(keys: string[]): Promise<Array<Value | undefined>> {
    if (keys.length === 0) return [];
    const stored = keys.map(storedKey);
    const rows = await this.query("SELECT key, value FROM keyv WHERE key = ANY($1::text[])", [stored]);
    const found = new Map(rows.map((r) => [r["key"], r["value"]]));
    return stored.map((k) => found.get(k) as Value | undefined);
  }

  override async has(key: string): Promise<boolean> {
    return (await this.query("SELECT 1 FROM keyv WHERE key = $1", [storedKey(key)])).length > 0;
  }

  /** `ttl` (ms, from keyv) sets the entry's expiry; without it the entry never expires. */
  override async set(key: string, value: unknown, ttl?: number): Promise<void> {
    const expires = typeof ttl === "number" && Number.isFinite(ttl) && ttl > 0 ? Math.floor(this.now() + ttl) : null;
    const stored = storedKey(key);
    await this.query(`INSERT INTO keyv (key, value, expires, full_key) VALUES ($1, $2, $3, $4)
      ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires, full_key = excluded.full_key`,
    [stored, value, expires, fullKeyText(key, stored)]);
  }

  /**
   * Writes each entry whose key holds no live entry (none, or an expired one), leaves the others; says per entry
   * whether it wrote it. One statement, no read before it (the journal's append, src/store/insert-if-absent.ts).
   * A key given twice is written by its first entry only.
   */
  async insertIfAbsent(entries: ReadonlyArray<{ key: string; value: string; ttl?: number }>): Promise<boolean[]> {
    const first = new Map<string, number>();
    entries.forEach((e, i) => {
      if (!first.has(storedKey(e.key))) first.set(storedKey(e.key), i);
    });
    if (first.size === 0) return [];
    const rows = [...first.values()].map((i) => entries[i] as { key: string; value: string; ttl?: number });
    const stored = rows.map((e) => storedKey(e.key));
    const now = this.now();
    const written = await this.query(`INSERT INTO keyv (key, value, expires, full_key)
      SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[])
      ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires, full_key = excluded.full_key
      WHERE keyv.expires IS NOT NULL AND keyv.expires <= $5 RETURNING key`,
    [stored, rows.map((e) => e.value), rows.map((e) => expiresAt(now, e.ttl)), rows.map((e, i) => fullKeyText(e.key, stored[i] as string)), now]);
    const wrote = new Set(written.map((r) => String(r["key"])));
    return entries.map((e, i) => first.get(storedKey(e.key)) === i && wrote.has(storedKey(e.key)));
  }

  override async setMany(entries: Array<{ key: string; value: unknown; ttl?: number }>): Promise<void> {
    for (const entry of entries) await this.set(entry.key, entry.value, entry.ttl);
  }

  override async delete(key: string): Promise<boolean> {
    return (await this.query("DELETE FROM keyv WHERE key = $1 RETURNING 1", [storedKey(key)])).length > 0;
  }

  override async deleteMany(keys: string[]): Promise<boolean> {
    if (keys.length === 0) return false;
    return (await this.query("DELETE FROM keyv WHERE key = ANY($1::text[]) RETURNING 1", [keys.map(storedKey)])).length > 0;
  }

  override async clear(): Promise<void> {
    throw new Error("clear the store's namespaces one by one (NamespaceView.clear)");
  }

  /**
   * Yields `[key, value]` of every unexpired entry whose key starts with `<namespace>:` (every entry without a
   * namespace), in key order, one page after the other from the last key seen.
   */
  override async *iterator(namespace?: string): AsyncGenerator<string[], void, unknown> {
    yield* this.keyRange(namespace, false);
  }

  /**
   * Yields `[key, value]` of the entries of `namespace` stored without an expiry (open-entries.ts), from the partial
   * index `keyv_open`: the namespace's entries that expire (done, sent) are not read.
   */
  async *listOpen(namespace: string): AsyncGenerator<[string, unknown], void> {
    for await (const [key, value] of this.keyRange(namespace, true)) yield [key as string, value];
  }

  /** A namespace's (every) unexpired entries, or (`open`) those without expiry, in key order, page by page. */
  private async *keyRange(namespace: string | undefined, open: boolean): AsyncGenerator<string[], void, unknown> {
    const high = namespace === undefined ? undefined : `${namespace};`;
    let low = namespace === undefined ? "" : `${namespace}:`;
    for (let first = true; ; first = false) {
      const params: unknown[] = [low, this.now(), PAGE_ROWS];
      if (high !== undefined) params.push(high);
      const rows = await this.query(`SELECT key, value, full_key FROM keyv WHERE key COLLATE "C" ${first ? ">=" : ">"} $1
        ${high === undefined ? "" : `AND key COLLATE "C" < $4`} AND ${open ? "expires IS NULL AND $2::bigint IS NOT NULL" : "(expires IS NULL OR expires > $2)"}
        ORDER BY key COLLATE "C" LIMIT $3`, params);
      for (const row of rows) {
        const full = row["full_key"];
        yield [typeof full === "string" ? String(JSON.parse(full)) : String(row["key"]), String(row["value"])];
      }
      const last = rows.at(-1);
      if (rows.length < PAGE_ROWS || last === undefined) return;
      low = String(last["key"]);
    }
  }

  /** Deletes at most `limit` entries whose expiry has passed (the oldest first); returns how many. */
  async deleteExpired(limit: number): Promise<number> {
    const rows = await this.query(`DELETE FROM keyv WHERE key IN
      (SELECT key FROM keyv WHERE expires IS NOT NULL AND expires <= $1 ORDER BY expires LIMIT $2) RETURNING 1`,
    [this.now(), Math.max(1, Math.floor(limit))]);
    return rows.length;
  }

  /** Entries stored, and how many of them have not expired. Counts the whole table: for figures and tests. */
  async countRows(): Promise<{ total: number; live: number }> {
    const [row] = await this.query("SELECT count(*) AS total, count(*) - count(CASE WHEN expires <= $1 THEN 1 END) AS live FROM keyv",
      [this.now()]);
    return { total: Number(row?.["total"] ?? 0), live: Number(row?.["live"] ?? 0) };
  }

  override async disconnect(): Promise<void> {
    const opened = pools.get(this);
    if (!opened) return;
    await opened.ready.catch(() => undefined);
    await opened.pool.end();
  }
}

/**
 * The primary key a key is stored under: itself, unless too long (see MAX_KEY_BYTES) or holding a NUL character
 * (PostgreSQL's text cannot): then its beginning (without NULs, so it stays in its namespace's key range) and a
 * SHA-256 of it, the whole key in `full_key` as JSON text (fullKeyText).
 */
export function storedKey(key: string): string {
  if (Buffer.byteLength(key, "utf8") <= MAX_KEY_BYTES && !key.includes("\0")) return key;
  const kept = Array.from(key).slice(0, KEPT_PREFIX_CHARS).join("").replaceAll("\0", "");
  return `${kept}#sha256:${createHash("sha256").update(key).digest("hex")}`;
}

/** The expiry column's value for a ttl (ms, from keyv): null when the entry never expires. */
function expiresAt(now: number, ttl: number | undefined): number | null {
  return typeof ttl === "number" && Number.isFinite(ttl) && ttl > 0 ? Math.floor(now + ttl) : null;
}

/** What `full_key` holds for a key stored under another (JSON: NUL characters escaped); null for the others. */
function fullKeyText(key: string, stored: string): string | null {
  return stored === key ? null : JSON.stringify(key);
}

/**
 * Creates the table, or brings one @keyv/postgres made up to date: the expires and full_key columns, expiry
 * filled from the serialized values, the partial index the sweep uses, and (when the key column does not sort in
 * the "C" collation) an index listing can use. Idempotent; concurrent openers serialize on an advisory lock.
 */
export async function migratePostgresSchema(query: Query, logger?: Logger): Promise<void> {
  await query("SELECT pg_advisory_lock(hashtext('matrix-agent-bot keyv schema'))");
  try {
    await query(`CREATE TABLE IF NOT EXISTS keyv (key TEXT COLLATE "C" PRIMARY KEY, value TEXT, expires BIGINT, full_key TEXT)`);
    const columns = new Set((await query(`SELECT column_name FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = 'keyv'`)).map((r) => r["column_name"]));
    if (!columns.has("full_key")) await query("ALTER TABLE keyv ADD COLUMN full_key TEXT");
    if (!columns.has("expires")) {
      await query("ALTER TABLE keyv ADD COLUMN expires BIGINT");
      // Rows from before the column: their expiry is inside the serialized value (keyv's {"value":…,"expires":n}).
      const filled = await query(`UPDATE keyv SET expires = (substring(value from '"expires":([0-9]{1,15})[,}]'))::bigint
        WHERE value LIKE '{%"expires":%' RETURNING 1`);
      logger?.info({ rowsThatExpire: filled.length }, "store schema migrated in place (postgres: expiry column and index)");
    }
    await query("CREATE INDEX IF NOT EXISTS keyv_expires ON keyv (expires) WHERE expires IS NOT NULL");
    // The rows that never expire, by key: the journal's and the outbox's pending entries (listOpen).
    await query(`CREATE INDEX IF NOT EXISTS keyv_open ON keyv (key COLLATE "C") WHERE expires IS NULL`);
    const [collation] = await query(`SELECT collation_name FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = 'keyv' AND column_name = 'key'`);
    if (collation?.["collation_name"] !== "C") await query(`CREATE INDEX IF NOT EXISTS keyv_key_c ON keyv (key COLLATE "C")`);
  } finally {
    await query("SELECT pg_advisory_unlock(hashtext('matrix-agent-bot keyv schema'))");
  }
}
