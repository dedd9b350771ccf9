// The SQLite adapter's connection (node-sqlite3), with its statements prepared once and reused.
//
// `Database#all(sql, …)` (what @keyv/sqlite's query does) builds a Statement for each call: a prepare on the thread
// pool (SQLite parses and plans the text again), then a run there, then a finalize: two hops to the thread pool and
// the wrapper's JS for each statement. A statement kept by its SQL text costs one hop (bind, step to the end and
// the rows in one work item) and no compile. The adapter's statements have a small, fixed set of texts (the
// variable-length ones come in powers of two: see sizedChunks()), so the cache stays small; every statement is
// finalized before the connection closes (SQLite refuses to close with one left).
//
// Reused statements are always stepped to the end (all()/run() of statements without RETURNING rows), so none holds
// a read snapshot or a lock between calls.
import sqlite3 from "sqlite3";

export class SqliteConnection {
  private readonly statements = new Map<string, Promise<sqlite3.Statement>>();
  private closed = false;

  private constructor(private readonly db: sqlite3.Database) {}

  /** Opens the database file (":memory:" for one in memory) with SQLite's busy timeout in ms (0: none). */
  static open(file: string, busyTimeoutMs: number | undefined): Promise<SqliteConnection> {
    return new Promise((resolve, reject) => {
      const db: sqlite3.Database = new sqlite3.Database(file, (error) => {
        if (error) return reject(error);
        if (busyTimeoutMs) db.configure("busyTimeout", busyTimeoutMs);
        resolve(new SqliteConnection(db));
      });
    });
  }

  /** Statements prepared and kept (figures and tests). */
  get preparedCount(): number {
    return this.statements.size;
  }

  /** A one-off statement (pragmas, the schema migration, tests): prepared, run and finalized, as @keyv/sqlite did. */
  query(sql: string, ...params: unknown[]): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      this.db.all(sql, ...params, (error: Error | null, rows: unknown[]) => (error ? reject(error) : resolve(rows)));
    });
  }

  /** Runs the kept statement of this text (prepared on first use) and returns its rows. */
  async all<Row>(sql: string, params: unknown[]): Promise<Row[]> {
    const statement = await this.prepared(sql);
    return new Promise((resolve, reject) => {
      statement.all(params, (error: Error | null, rows: Row[]) => (error ? reject(error) : resolve(rows)));
    });
  }

  /** Finalizes every kept statement, then closes the connection. */
  async close(): Promise<void> {
    this.closed = true;
    const kept = [...this.statements.values()];
    this.statements.clear();
    for (const pending of kept) {
      const statement = await pending.catch(() => undefined); // one that failed to prepare holds nothing
      if (statement) await new Promise<void>((resolve) => statement.finalize(() => resolve()));
    }
    await new Promise<void>((resolve, reject) => this.db.close((error) => (error ? reject(error) : resolve())));
  }

  private prepared(sql: string): Promise<sqlite3.Statement> {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      if (this.closed) return Promise.reject(new Error("SQLITE_MISUSE: the store's connection is closed"));
      statement = new Promise((resolve, reject) => {
        const s: sqlite3.Statement = this.db.prepare(sql, (error: Error | null) => (error ? reject(error) : resolve(s)));
      });
      this.statements.set(sql, statement);
      statement.catch(() => this.statements.delete(sql)); // a text that fails to prepare is not kept (tried again next time)
    }
    return statement;
  }
}

/** Lists up to this long are padded to a power of two; longer ones are cut into powers of two (sizedChunks). */
const PAD_UP_TO = 8;

/**
 * `items` as consecutive lists whose lengths are powers of two (at most `max`), so that a few statement texts serve
 * every length: a list of more than PAD_UP_TO is cut into the largest powers of two that fit (180 = 128 + 32 + 16 +
 * 4), and what remains (at most PAD_UP_TO) is padded by repeating its last item (padded()). Padding a long list
 * instead would bind and run up to twice its rows.
 */
export function sizedChunks<T>(items: readonly T[], max: number): T[][] {
  const out: T[][] = [];
  let start = 0;
  while (items.length - start > PAD_UP_TO) {
    let size = max;
    while (size > items.length - start) size /= 2;
    out.push(items.slice(start, start + size));
    start += size;
  }
  if (start < items.length) out.push(padded(items.slice(start), max));
  return out;
}

/** The power of two a list of `n` is padded to (at most `max`). */
export function paddedSize(n: number, max: number): number {
  let size = 1;
  while (size < n && size < max) size *= 2;
  return Math.min(size, max);
}

/** `items` padded to paddedSize() by repeating its last item (statements whose result a repeated row leaves alone). */
export function padded<T>(items: readonly T[], max: number): T[] {
  const out = items.slice();
  const last = items[items.length - 1];
  if (last === undefined) return out;
  for (let size = paddedSize(items.length, max); out.length < size;) out.push(last);
  return out;
}
