// The SQL texts of the SQLite adapter's statements, one text per (table, kind, padded size): the connection keeps a
// prepared statement per text (sqlite-connection.ts), so the same string object is handed out every time.
//
// A variable number of keys or rows is bound as that many parameters, in lists of a power of two (sqlite-connection.ts
// sizedChunks(): long lists cut, short ones padded by repeating the last key or row): a repeated key in `IN (…)`
// selects or deletes nothing more, a repeated row of an upsert writes the same value again, a repeated row of an
// insert finds its key live and leaves it. Keys travel as parameters, not as a JSON array for json_each (which SQLite parses per statement and reads
// through a virtual table: about twice the cost per statement in bench/sqlite-statements.ts).

/** Rows per multi-row statement (three bound parameters each; SQLite allows 32,766). */
export const MAX_ROWS = 512;
/** Keys per `IN (…)` statement. */
export const MAX_KEYS = 1024;
/** Key or row lists up to this long run as kept statements; longer ones are prepared for their run only. */
export const KEEP_UP_TO = 64;

export interface SqliteStatements {
  select(keys: number): string;
  remove(keys: number): string;
  upsert(rows: number): string;
  insert(rows: number): string;
  /** A page of a listing: the first (from `>=` the low key) or a next one (`>` the last key seen), bounded or not. */
  page(first: boolean, bounded: boolean): string;
  readonly deleteExpired: string;
  readonly countRows: string;
  readonly has: string;
  readonly clear: string;
  readonly begin: string;
  readonly commit: string;
  readonly rollback: string;
}

export function sqliteStatements(table: string): SqliteStatements {
  const bySize = (text: (n: number) => string): ((n: number) => string) => {
    const texts = new Map<number, string>();
    return (n) => {
      let sql = texts.get(n);
      if (sql === undefined) texts.set(n, (sql = text(n)));
      return sql;
    };
  };
  const list = (n: number, item: string): string => Array.from({ length: n }, () => item).join(", ");
  const upsert = (n: number): string => `INSERT INTO ${table} (key, value, expires) VALUES ${list(n, "(?, ?, ?)")}
      ON CONFLICT(key) DO UPDATE SET value=excluded.value, expires=excluded.expires`;
  const pages = new Map<string, string>();
  return {
    select: bySize((n) => `SELECT key, value FROM ${table} WHERE key IN (${list(n, "?")})`),
    remove: bySize((n) => `DELETE FROM ${table} WHERE key IN (${list(n, "?")}) RETURNING key`),
    upsert: bySize(upsert),
    // Writes where no live entry holds the key (an expired one is replaced); RETURNING names the keys written.
    insert: bySize((n) => `${upsert(n)} WHERE ${table}.expires IS NOT NULL AND ${table}.expires <= ? RETURNING key`),
    page: (first, bounded) => {
      const id = `${first}:${bounded}`;
      let sql = pages.get(id);
      if (sql === undefined) {
        pages.set(id, (sql = `SELECT key, value FROM ${table} WHERE key ${first ? ">=" : ">"} ?${bounded ? " AND key < ?" : ""}
        AND (expires IS NULL OR expires > ?) ORDER BY key LIMIT ?`));
      }
      return sql;
    },
    deleteExpired: `DELETE FROM ${table} WHERE rowid IN
      (SELECT rowid FROM ${table} WHERE expires IS NOT NULL AND expires <= ? ORDER BY expires LIMIT ?) RETURNING 1`,
    countRows: `SELECT count(*) AS total, count(*) - count(CASE WHEN expires <= ? THEN 1 END) AS live FROM ${table}`,
    has: `SELECT EXISTS (SELECT 1 FROM ${table} WHERE key = ?) AS present`,
    clear: `DELETE FROM ${table} WHERE key LIKE ?`,
    begin: "BEGIN IMMEDIATE",
    commit: "COMMIT",
    rollback: "ROLLBACK",
  };
}

/** @keyv/sqlite's table name rule: letters, digits and `_` only, not starting with a digit. */
export function tableName(input: string): string {
  const sanitized = input.replace(/[^a-zA-Z0-9_]/g, "");
  if (sanitized.length === 0) throw new Error("Invalid table name: must contain alphanumeric characters");
  return /^[a-zA-Z]/.test(sanitized) ? sanitized : `_${sanitized}`;
}
