// The SQLite adapter the store uses: @keyv/sqlite's, with fewer statements per write.
//
// Every statement costs node-sqlite3 a prepare, a run and a finalize through its thread pool (and a write, a commit);
// a turn reads and writes several keys (journal, outbox, indexes), so statements, not bytes, bound what the store
// can do. Three changes:
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
// And four additions (schema in sqlite-schema.ts):
//   - every set also writes the entry's expiry (from keyv's ttl) into an indexed column, and deleteExpired()
//     removes expired entries in batches (the store's sweep, sweep.ts): keyv itself only drops an expired entry
//     when the same key is read again;
//   - listing a namespace is a range of the primary key (`key >= 'ns:' AND key < 'ns;'`, ':' + 1 = ';') paged by
//     the last key seen, not @keyv/sqlite's `LIKE 'ns:%'` with OFFSET (a scan of the table per page);
//   - listOpen(): a namespace's entries without expiry, from a partial index (open-entries.ts);
//   - countRows() for figures and tests.
import { KeyvSqlite } from "@keyv/sqlite";
import type { Logger } from "pino";
import { migrateSqliteSchema } from "./sqlite-schema";

type Write =
  | { kind: "set"; key: string; value: unknown; expires: number | null; resolve: (v: unknown) => void; reject: (e: unknown) => void }
  | { kind: "delete"; key: string; resolve: (v: boolean) => void; reject: (e: unknown) => void }
  | InsertWrite;
/** insertIfAbsent's write: resolves true when it wrote the key (no live entry was there), false when it left it. */
type InsertWrite = { kind: "insert"; key: string; value: unknown; expires: number | null; resolve: (v: boolean) => void; reject: (e: unknown) => void };

/** Rows per coalesced statement (three bound parameters each; SQLite allows 32,766). */
const MAX_ROWS = 500;
/** Keys per coalesced read (one JSON array parameter). */
const MAX_READ_KEYS = 1000;

interface Read {
  keys: string[];
  resolve: (values: unknown[]) => void;
  reject: (e: unknown) => void;
}

/** Rows per page when listing a namespace. */
const PAGE_ROWS = 1000;

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
export class CoalescingKeyvSqlite extends KeyvSqlite {
  /** The schema migration; every statement of this class waits for it. */
  private readonly ready: Promise<void>;
  private readonly now: () => number;
  private queue: Write[] = [];
  private flushing: Promise<void> | undefined;
  private reads: Read[] = [];
  private reading: Promise<void> | undefined;
  /** Writes asked for (each set, delete or insert of a key), commits that carried them, reads asked for (each get or getMany): figures (/metrics, bench, tests). */
  readonly writeStats = { writes: 0, commits: 0, reads: 0 };

  constructor(options: ConstructorParameters<typeof KeyvSqlite>[0], extra: CoalescingOptions = {}) {
    super(options);
    this.now = extra.now ?? Date.now;
    const query = (sql: string, ...params: unknown[]): Promise<unknown> => this.query(sql, ...params);
    this.ready = (async () => {
      await extra.setup?.(query);
      await migrateSqliteSchema(query, this.table, extra.logger);
    })();
    this.ready.catch(() => undefined); // reported by whenReady() and by the first statement that waits for it
  }

  /** Resolves once the setup and the schema migration are done; rejects if the database cannot be opened. */
  whenReady(): Promise<void> {
    return this.ready;
  }

  /** The table name (@keyv/sqlite sanitizes it and defaults it to "keyv"). */
  private get table(): string {
    return this.opts.table ?? "keyv";
  }

  /** A statement of this class: after the schema migration. */
  private async run(sql: string, ...params: unknown[]): Promise<unknown> {
    await this.ready;
    return this.query(sql, ...params);
  }

  override async get<Value>(key: string): Promise<Value | undefined> {
    const [value] = await this.read([key]);
    return value as Value | undefined;
  }

  override async getMany<Value>(keys: string[]): Promise<Array<Value | undefined>> {
    return (await this.read(keys)) as Array<Value | undefined>;
  }

  /** `ttl` (ms, from keyv) sets the entry's expiry; without it the entry never expires. */
  override set(key: string, value: unknown, ttl?: number): Promise<unknown> {
    const expires = this.expiresAt(ttl);
    return new Promise((resolve, reject) => this.enqueue({ kind: "set", key, value, expires, resolve, reject }));
  }

  private expiresAt(ttl: number | undefined): number | null {
    return typeof ttl === "number" && Number.isFinite(ttl) && ttl > 0 ? Math.floor(this.now() + ttl) : null;
  }

  override delete(key: string): Promise<boolean> {
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

  override async deleteMany(keys: string[]): Promise<boolean> {
    const results = await Promise.all(keys.map((key) => this.delete(key)));
    return results.some(Boolean);
  }

  /**
   * Yields `[key, value]` of every unexpired entry whose key starts with `<namespace>:` (every entry without a
   * namespace), in key order: a range scan of the primary key, one page after the other from the last key seen
   * (entries written or deleted meanwhile never make a page skip another entry).
   */
  override async *iterator<Value>(namespace?: string): AsyncGenerator<Array<string | Awaited<Value> | undefined>, void> {
    const table = this.table;
    const high = namespace === undefined ? undefined : `${namespace};`;
    let low = namespace === undefined ? "" : `${namespace}:`;
    for (let first = true; ; first = false) {
      const rows = (await this.run(`SELECT key, value FROM ${table} WHERE key ${first ? ">=" : ">"} ?${high === undefined ? "" : " AND key < ?"}
        AND (expires IS NULL OR expires > ?) ORDER BY key LIMIT ?`, ...[low, ...(high === undefined ? [] : [high]), this.now(), PAGE_ROWS])) as
        Array<{ key: string; value: Awaited<Value> }>;
      for (const row of rows) yield [row.key, row.value];
      const last = rows.at(-1);
      if (rows.length < PAGE_ROWS || last === undefined) return;
      low = last.key;
    }
  }

  /**
   * Yields `[key, value]` of the entries of `namespace` stored without an expiry (open-entries.ts): a range of the
   * partial index `<table>_open` (sqlite-schema.ts), so the namespace's entries that expire (done, sent) are not read.
   */
  async *listOpen(namespace: string): AsyncGenerator<[string, unknown], void> {
    const table = this.table;
    const high = `${namespace};`;
    let low = `${namespace}:`;
    for (let first = true; ; first = false) {
      const rows = (await this.run(`SELECT key, value FROM ${table} INDEXED BY ${table}_open
        WHERE expires IS NULL AND key ${first ? ">=" : ">"} ? AND key < ? ORDER BY key LIMIT ?`, low, high, PAGE_ROWS)) as
        Array<{ key: string; value: unknown }>;
      for (const row of rows) yield [row.key, row.value];
      const last = rows.at(-1);
      if (rows.length < PAGE_ROWS || last === undefined) return;
      low = last.key;
    }
  }

  /** Deletes at most `limit` entries whose expiry has passed (the oldest first); returns how many. */
  async deleteExpired(limit: number): Promise<number> {
    const table = this.table;
    const rows = (await this.run(`DELETE FROM ${table} WHERE rowid IN
      (SELECT rowid FROM ${table} WHERE expires IS NOT NULL AND expires <= ? ORDER BY expires LIMIT ?) RETURNING 1`,
      this.now(), Math.max(1, Math.floor(limit)))) as unknown[];
    return rows.length;
  }

  /** Entries stored, and how many of them have not expired. Counts the whole table: for figures and tests. */
  async countRows(): Promise<{ total: number; live: number }> {
    const [row] = (await this.run(`SELECT count(*) AS total, count(*) - count(CASE WHEN expires <= ? THEN 1 END) AS live FROM ${this.table}`,
      this.now())) as Array<{ total: number; live: number }>;
    return { total: row?.total ?? 0, live: row?.live ?? 0 };
  }

  /** Waits for the reads and writes queued so far, then closes the connection. */
  override async disconnect(): Promise<void> {
    while (this.flushing || this.reading) await Promise.all([this.flushing, this.reading]);
    await super.disconnect();
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
   * without the others. The loop's last check and the reset of `flushing` happen in one synchronous step, so a write queued at any
   * point is either seen by this loop or starts the next one.
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
      for (const keys of chunk([...deletes], MAX_READ_KEYS)) statements.push(async () => void (await this.remove(keys)).forEach((k) => existed.add(k)));
      for (const rows of chunk(sets, MAX_ROWS)) statements.push(() => this.upsert(rows));
      for (const rows of chunk(inserts, MAX_ROWS)) {
        statements.push(async () => {
          const wrote = new Set(await this.insertRows(rows));
          for (const w of rows) if (wrote.has(w.key)) inserted.add(w);
        });
      }
    }
    const alone = statements.length === 1; // one statement commits on its own (autocommit)
    if (!alone) await this.run("BEGIN IMMEDIATE");
    try {
      for (const statement of statements) await statement();
      if (!alone) await this.run("COMMIT");
    } catch (error) {
      if (!alone) await this.run("ROLLBACK").catch(() => undefined); // none open if COMMIT itself rolled back
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
        while (end < this.reads.length && (end === 0 || count + (this.reads[end]?.keys.length ?? 0) <= MAX_READ_KEYS)) {
          count += this.reads[end]?.keys.length ?? 0;
          end += 1;
        }
        const batch = this.reads.splice(0, end);
        try {
          const keys = [...new Set(batch.flatMap((r) => r.keys))];
          const rows = (await this.run(`SELECT key, value FROM ${this.table} WHERE key IN (SELECT value FROM json_each(?))`,
            JSON.stringify(keys))) as Array<{ key: string; value: unknown }>;
          const found = new Map(rows.map((r) => [r.key, r.value]));
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
    const rows = run.map(() => "(?, ?, ?)").join(", ");
    const params = run.flatMap((w) => [w.key, w.value, w.expires]);
    await this.run(`INSERT INTO ${this.table} (key, value, expires) VALUES ${rows}
      ON CONFLICT(key) DO UPDATE SET value=excluded.value, expires=excluded.expires`, ...params);
  }

  /** Inserts these rows where no live entry holds the key (an expired one is replaced); returns the keys written. */
  private async insertRows(run: InsertWrite[]): Promise<string[]> {
    const table = this.table;
    const rows = run.map(() => "(?, ?, ?)").join(", ");
    const params = run.flatMap((w) => [w.key, w.value, w.expires]);
    const written = (await this.run(`INSERT INTO ${table} (key, value, expires) VALUES ${rows}
      ON CONFLICT(key) DO UPDATE SET value=excluded.value, expires=excluded.expires
      WHERE ${table}.expires IS NOT NULL AND ${table}.expires <= ? RETURNING key`, ...params, this.now())) as Array<{ key: string }>;
    return written.map((r) => r.key);
  }

  /** Deletes these keys; returns those that existed. */
  private async remove(keys: string[]): Promise<string[]> {
    const rows = (await this.run(`DELETE FROM ${this.table} WHERE key IN (SELECT value FROM json_each(?)) RETURNING key`,
      JSON.stringify(keys))) as Array<{ key: string }>;
    return rows.map((r) => r.key);
  }
}

/**
 * A group cut where an insert meets another write of its key: each segment's inserts share no key with the rest of
 * the segment, so its statements (deletes, sets, inserts) may run in any order; the segments run in arrival order.
 * A group without inserts is one segment.
 */
function segmentsOf(group: Write[]): Write[][] {
  if (!group.some((w) => w.kind === "insert")) return [group];
  const segments: Write[][] = [];
  let current: Write[] = [];
  const keys = new Set<string>();
  const insertKeys = new Set<string>();
  for (const w of group) {
    if (w.kind === "insert" ? keys.has(w.key) : insertKeys.has(w.key)) {
      segments.push(current);
      current = [];
      keys.clear();
      insertKeys.clear();
    }
    current.push(w);
    keys.add(w.key);
    if (w.kind === "insert") insertKeys.add(w.key);
  }
  segments.push(current);
  return segments;
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
