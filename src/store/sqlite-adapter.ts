// The SQLite adapter the store uses: @keyv/sqlite's table and behaviour, with fewer statements per write.
//
// Every statement costs node-sqlite3 a run through its thread pool (and a write, a commit); a turn reads and writes
// several keys (journal, outbox, indexes), so statements, not bytes, bound what the store can do. It owns its
// connection (sqlite-connection.ts: statements prepared once per SQL text and reused, not compiled per call as
// @keyv/sqlite's query does; the texts in sqlite-statements.ts) and opens the same table @keyv/sqlite does
// (`key VARCHAR(255) PRIMARY KEY, value TEXT`), so a store file of either opens with the other. Three changes:
//   - a delete is one `DELETE … RETURNING key` (SQLite ≥ 3.35), not a SELECT followed by a DELETE;
//   - writes coalesce (group commit): the first write goes out once the current tick's work is done (setImmediate:
//     a caller's writes issued together share its commit); every write that arrives while a commit is in flight
//     waits, and then all of them go in one transaction, one commit (one fsync of the WAL with
//     synchronous=FULL) however many they are: at most one multi-key delete and one multi-row upsert, which
//     leave each key as the writes would have in arrival order (its last write wins). A write resolves only after
//     the commit that carries it, and a group is all or nothing, so a write issued after another never becomes
//     durable without it (Store.writesInIssueOrder); only the number of statements and commits drops. A failed
//     group fails all its writes (the groups queued behind it go on, as before). A read that runs while a group
//     is between BEGIN and COMMIT sees its writes (one connection): only a failed commit could make it wrong;
//   - reads coalesce the same way (their own queue, beside the writes, as before): the reads that arrive while one
//     is in flight go together as one `SELECT … WHERE key IN (…)`.
// insertIfAbsent (the journal's append, src/store/insert-if-absent.ts) is a write of that queue too: one
// `INSERT … ON CONFLICT … RETURNING key` in the group commit says which keys were new, with no read before it.
// And three additions (schema in sqlite-schema.ts):
//   - every set also writes the entry's expiry (from keyv's ttl) into an indexed column, and deleteExpired()
//     removes expired entries in batches (the store's sweep, sweep.ts): keyv itself only drops an expired entry
//     when the same key is read again;
//   - listing a namespace is a range of the primary key (`key >= 'ns:' AND key < 'ns;'`, ':' + 1 = ';') paged by
//     the last key seen, not @keyv/sqlite's `LIKE 'ns:%'` with OFFSET (a scan of the table per page);
//   - countRows() for figures and tests.
import { EventEmitter } from "node:events";
import type { KeyvStoreAdapter } from "keyv";
import type { Logger } from "pino";
import { sizedChunks, SqliteConnection } from "./sqlite-connection";
import { migrateSqliteSchema } from "./sqlite-schema";
import { type InsertWrite, segmentsOf, type Write } from "./sqlite-groups";
import { KEEP_UP_TO, MAX_KEYS, MAX_ROWS, sqliteStatements, type SqliteStatements, tableName } from "./sqlite-statements";


interface Read {
  keys: string[];
  resolve: (values: unknown[]) => void;
  reject: (e: unknown) => void;
}

/** Rows per page when listing a namespace. */
const PAGE_ROWS = 1000;

/** What @keyv/sqlite's constructor took (the same names). */
export interface SqliteAdapterOptions {
  /** `sqlite://<file>`, `sqlite://:memory:` (default). */
  uri?: string;
  /** Table name (letters, digits, `_`; others are dropped, as @keyv/sqlite does). Default "keyv". */
  table?: string;
  /** SQLite's busy timeout in ms. */
  busyTimeout?: number;
  /** VARCHAR size of the key column when the table is created. Default 255. */
  keySize?: number;
}

export interface CoalescingOptions {
  /** The clock expiry is measured on (tests and benchmarks simulate days). Default Date.now. */
  now?: () => number;
  /** Where the in-place schema migration reports itself. */
  logger?: Logger;
  /** Run on the connection before the schema migration and before any statement of this class (PRAGMAs). */
  setup?: (query: (sql: string) => Promise<unknown>) => Promise<void>;
}

/** What the "commit" event carries (tests observe the durability order with it): each write, in arrival order. */
export interface CommittedWrite {
  key: string;
  /** The stored text of a set; undefined for a delete. */
  value: unknown;
}

/**
 * Emits "commit" (CommittedWrite[]) after each commit, before the writes it carried resolve, and "read" (the keys)
 * when a read is asked for.
 */
export class CoalescingKeyvSqlite extends EventEmitter implements KeyvStoreAdapter {
  readonly ttlSupport = false;
  readonly opts: { dialect: "sqlite"; uri: string; db: string; table: string; keySize: number; busyTimeout?: number };
  namespace?: string;
  private readonly connection: Promise<SqliteConnection>;
  /** The connection once the setup and the schema migration are done (statements of this class use it from then). */
  private connected: SqliteConnection | undefined;
  /** The schema migration; every statement of this class waits for it. */
  private readonly ready: Promise<void>;
  private readonly sql: SqliteStatements;
  private readonly now: () => number;
  private queue: Write[] = [];
  private flushing: Promise<void> | undefined;
  private reads: Read[] = [];
  private reading: Promise<void> | undefined;
  /** Writes asked for (each set, delete or insert of a key), commits that carried them, reads asked for (each get or getMany): figures (/metrics, bench, tests). */
  readonly writeStats = { writes: 0, commits: 0, reads: 0 };

  constructor(options: SqliteAdapterOptions | string = {}, extra: CoalescingOptions = {}) {
    super();
    const given = typeof options === "string" ? { uri: options } : options;
    const uri = given.uri ?? "sqlite://:memory:";
    const keySize = Number(given.keySize ?? 255);
    if (!Number.isFinite(keySize) || keySize <= 0 || keySize > 65535) throw new Error("Invalid keySize: must be a positive number between 1 and 65535");
    this.opts = { dialect: "sqlite", uri, db: uri.replace(/^sqlite:\/\//, ""), table: tableName(given.table ?? "keyv"), keySize,
      ...(given.busyTimeout === undefined ? {} : { busyTimeout: given.busyTimeout }) };
    this.sql = sqliteStatements(this.opts.table);
    this.now = extra.now ?? Date.now;
    const table = this.opts.table;
    const connection = SqliteConnection.open(this.opts.db, this.opts.busyTimeout).then(async (opened) => {
      await opened.query(`CREATE TABLE IF NOT EXISTS ${table}(key VARCHAR(${keySize}) PRIMARY KEY, value TEXT )`);
      return opened;
    }).catch((error: unknown) => {
      if (this.listenerCount("error") > 0) this.emit("error", error);
      throw error;
    });
    this.connection = connection;
    const query = (sql: string, ...params: unknown[]): Promise<unknown> => this.query(sql, ...params);
    this.ready = (async () => {
      await extra.setup?.(query);
      await migrateSqliteSchema(query, table, extra.logger);
      this.connected = await connection;
    })();
    this.ready.catch(() => undefined); // reported by whenReady() and by the first statement that waits for it
  }

  /** Resolves once the setup and the schema migration are done; rejects if the database cannot be opened. */
  whenReady(): Promise<void> {
    return this.ready;
  }

  /** Statements prepared and kept on the connection (0 before the first, and after disconnect). */
  async preparedStatements(): Promise<number> {
    return (await this.connection).preparedCount;
  }

  /** A statement of any text, prepared, run and finalized (no waiting for the migration): setup, tests. */
  async query(sql: string, ...params: unknown[]): Promise<unknown[]> {
    return (await this.connection).query(sql, ...params);
  }

  /** The table name. */
  private get table(): string {
    return this.opts.table;
  }

  /** A statement of this class (a kept prepared statement), after the schema migration. */
  private async run<Row = unknown>(sql: string, ...params: unknown[]): Promise<Row[]> {
    return this.runList<Row>(1, sql, params);
  }

  /**
   * A statement of `size` keys or rows: kept prepared up to KEEP_UP_TO (the sizes a turn uses), prepared for this run
   * only beyond (a compile is little beside that many rows, and the long texts' statements hold ~2 MB all together).
   */
  private async runList<Row>(size: number, sql: string, params: unknown[]): Promise<Row[]> {
    const connection = this.connected ?? (await this.ready, await this.connection);
    return size <= KEEP_UP_TO ? connection.all<Row>(sql, params) : (connection.query(sql, ...params) as Promise<Row[]>);
  }

  async get<Value>(key: string): Promise<Value | undefined> {
    const [value] = await this.read([key]);
    return value as Value | undefined;
  }

  async getMany<Value>(keys: string[]): Promise<Array<Value | undefined>> {
    return (await this.read(keys)) as Array<Value | undefined>;
  }

  /** `ttl` (ms, from keyv) sets the entry's expiry; without it the entry never expires. */
  set(key: string, value: unknown, ttl?: number): Promise<unknown> {
    const expires = this.expiresAt(ttl);
    return new Promise((resolve, reject) => this.enqueue({ kind: "set", key, value, expires, resolve, reject }));
  }

  private expiresAt(ttl: number | undefined): number | null {
    return typeof ttl === "number" && Number.isFinite(ttl) && ttl > 0 ? Math.floor(this.now() + ttl) : null;
  }

  delete(key: string): Promise<boolean> {
    return new Promise((resolve, reject) => this.enqueue({ kind: "delete", key, resolve, reject }));
  }

  /**
   * Writes each entry whose key holds no live entry (none, or an expired one) and leaves the others as they are;
   * resolves, per entry, whether it wrote it. No read: the entries go in the next group commit like any write
   * (`INSERT … ON CONFLICT DO UPDATE … WHERE expired RETURNING key`), in issue order with the other writes.
   */
  insertIfAbsent(entries: ReadonlyArray<{ key: string; value: string; ttl?: number }>): Promise<boolean[]> {
    return Promise.all(entries.map(({ key, value, ttl }) => new Promise<boolean>((resolve, reject) =>
      this.enqueue({ kind: "insert", key, value, expires: this.expiresAt(ttl), resolve, reject }))));
  }

  async deleteMany(keys: string[]): Promise<boolean> {
    const results = await Promise.all(keys.map((key) => this.delete(key)));
    return results.some(Boolean);
  }

  /**
   * Yields `[key, value]` of every unexpired entry whose key starts with `<namespace>:` (every entry without a
   * namespace), in key order: a range scan of the primary key, one page after the other from the last key seen
   * (entries written or deleted meanwhile never make a page skip another entry).
   */
  async *iterator<Value>(namespace?: string): AsyncGenerator<Array<string | Awaited<Value> | undefined>, void> {
    const high = namespace === undefined ? undefined : `${namespace};`;
    let low = namespace === undefined ? "" : `${namespace}:`;
    for (let first = true; ; first = false) {
      const rows = await this.run<{ key: string; value: Awaited<Value> }>(this.sql.page(first, high !== undefined),
        ...[low, ...(high === undefined ? [] : [high]), this.now(), PAGE_ROWS]);
      for (const row of rows) yield [row.key, row.value];
      const last = rows.at(-1);
      if (rows.length < PAGE_ROWS || last === undefined) return;
      low = last.key;
    }
  }

  /** Deletes at most `limit` entries whose expiry has passed (the oldest first); returns how many. */
  async deleteExpired(limit: number): Promise<number> {
    return (await this.run(this.sql.deleteExpired, this.now(), Math.max(1, Math.floor(limit)))).length;
  }

  /** Entries stored, and how many of them have not expired. Counts the whole table: for figures and tests. */
  async countRows(): Promise<{ total: number; live: number }> {
    const [row] = await this.run<{ total: number; live: number }>(this.sql.countRows, this.now());
    return { total: row?.total ?? 0, live: row?.live ?? 0 };
  }

  /** Whether a live or expired entry holds the key (as @keyv/sqlite: keyv checks the expiry it serialized). */
  async has(key: string): Promise<boolean> {
    const [row] = await this.run<{ present: number }>(this.sql.has, key);
    return row?.present === 1;
  }

  /** Deletes every entry of `this.namespace` (every entry without one), as @keyv/sqlite does. */
  async clear(): Promise<void> {
    await this.run(this.sql.clear, this.namespace ? `${this.namespace}:%` : "%");
  }

  /** Waits for the reads and writes queued so far, then finalizes the kept statements and closes the connection. */
  async disconnect(): Promise<void> {
    while (this.flushing || this.reading) await Promise.all([this.flushing, this.reading]);
    await (await this.connection).close();
  }

  private enqueue(write: Write): void {
    this.writeStats.writes += 1;
    this.queue.push(write);
    if (!this.flushing) this.flushing = this.flush();
  }

  /**
   * Runs until the queue is empty, one group commit per round: what queued while the last commit was in flight,
   * however much that is. A round is never cut short: writes a caller issued in one tick (keyv's set reaches the
   * adapter a few microtasks after a delete issued behind it) always share a commit, so none of them becomes durable
   * without the others. The loop's last check and the reset of `flushing` happen in one synchronous step, so a write
   * queued at any point is either seen by this loop or starts the next one.
   */
  private async flush(): Promise<void> {
    try {
      await new Promise((resolve) => setImmediate(resolve)); // the writes issued in this tick go together
      while (this.queue.length > 0) {
        const group = this.queue.splice(0);
        try {
          this.settle(group, await this.commitGroup(group));
        } catch (error) {
          for (const w of group) w.reject(error);
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }

  /**
   * Writes a group in one commit: every key a delete touches is deleted first (RETURNING says which existed before
   * the group), then every key whose last write is a set gets that value, then the inserts (insertIfAbsent) go in.
   * A group whose inserts share a key with another of its writes runs as consecutive segments (segmentsOf), each
   * so, in the one transaction. Returns the keys that existed before a delete and the inserts that wrote their key.
   */
  private async commitGroup(group: Write[]): Promise<{ existed: Set<string>; inserted: Set<Write> }> {
    const statements: Array<() => Promise<void>> = [];
    const existed = new Set<string>();
    const inserted = new Set<Write>();
    for (const segment of segmentsOf(group)) {
      const last = new Map<string, Write>();
      const deletes = new Set<string>();
      const inserts: InsertWrite[] = [];
      for (const w of segment) {
        if (w.kind === "insert") {
          inserts.push(w); // (a segment's inserts share no key with its other writes)
          continue;
        }
        last.delete(w.key); // re-inserted: the map keeps the order of each key's last write
        last.set(w.key, w);
        if (w.kind === "delete") deletes.add(w.key);
      }
      const sets = [...last.values()].filter((w): w is Extract<Write, { kind: "set" }> => w.kind === "set");
      for (const keys of sizedChunks([...deletes], MAX_KEYS)) statements.push(async () => void (await this.remove(keys)).forEach((k) => existed.add(k)));
      for (const rows of sizedChunks(sets, MAX_ROWS)) statements.push(() => this.upsert(rows));
      for (const rows of sizedChunks(inserts, MAX_ROWS)) {
        statements.push(async () => {
          const wrote = new Set(await this.insertRows(rows));
          for (const w of rows) if (wrote.has(w.key)) inserted.add(w);
        });
      }
    }
    const alone = statements.length === 1; // one statement commits on its own (autocommit)
    if (!alone) await this.run(this.sql.begin);
    try {
      for (const statement of statements) await statement();
      if (!alone) await this.run(this.sql.commit);
    } catch (error) {
      if (!alone) await this.run(this.sql.rollback).catch(() => undefined); // none open if COMMIT itself rolled back
      throw error;
    }
    this.writeStats.commits += 1;
    if (this.listenerCount("commit") > 0) this.emit("commit", group.map((w) => ({ key: w.key, value: w.kind === "delete" ? undefined : w.value })));
    return { existed, inserted };
  }

  /**
   * Resolves a committed group's writes in arrival order; a delete says whether its key was there at that point, an
   * insert whether it wrote its key.
   */
  private settle(group: Write[], { existed, inserted }: { existed: Set<string>; inserted: Set<Write> }): void {
    const present = new Map<string, boolean>();
    for (const w of group) {
      const was = present.get(w.key) ?? existed.has(w.key);
      present.set(w.key, w.kind !== "delete");
      if (w.kind === "set") w.resolve(undefined);
      else if (w.kind === "insert") w.resolve(inserted.has(w));
      else w.resolve(was);
    }
  }

  private read(keys: string[]): Promise<unknown[]> {
    if (keys.length === 0) return Promise.resolve([]);
    this.writeStats.reads += 1;
    if (this.listenerCount("read") > 0) this.emit("read", keys);
    return new Promise((resolve, reject) => {
      this.reads.push({ keys, resolve, reject });
      if (!this.reading) this.reading = this.readAll();
    });
  }

  /** As flush(), for reads: whatever queued while a SELECT was in flight goes in the next one. */
  private async readAll(): Promise<void> {
    try {
      while (this.reads.length > 0) {
        let count = 0;
        let end = 0;
        while (end < this.reads.length && (end === 0 || count + (this.reads[end]?.keys.length ?? 0) <= MAX_KEYS)) {
          count += this.reads[end]?.keys.length ?? 0;
          end += 1;
        }
        const batch = this.reads.splice(0, end);
        try {
          const found = new Map<string, unknown>();
          for (const keys of sizedChunks([...new Set(batch.flatMap((r) => r.keys))], MAX_KEYS)) {
            for (const r of await this.runList<{ key: string; value: unknown }>(keys.length, this.sql.select(keys.length), keys)) found.set(r.key, r.value);
          }
          for (const r of batch) r.resolve(r.keys.map((k) => found.get(k)));
        } catch (error) {
          for (const r of batch) r.reject(error);
        }
      }
    } finally {
      this.reading = undefined;
    }
  }

  private async upsert(run: Array<Extract<Write, { kind: "set" }>>): Promise<void> {
    await this.runList(run.length, this.sql.upsert(run.length), run.flatMap((w) => [w.key, w.value, w.expires]));
  }

  /** Inserts these rows where no live entry holds the key (an expired one is replaced); returns the keys written. */
  private async insertRows(run: InsertWrite[]): Promise<string[]> {
    const written = await this.runList<{ key: string }>(run.length, this.sql.insert(run.length),
      [...run.flatMap((w) => [w.key, w.value, w.expires]), this.now()]);
    return written.map((r) => r.key);
  }

  /** Deletes these keys; returns those that existed. */
  private async remove(keys: string[]): Promise<string[]> {
    return (await this.runList<{ key: string }>(keys.length, this.sql.remove(keys.length), keys)).map((r) => r.key);
  }
}
