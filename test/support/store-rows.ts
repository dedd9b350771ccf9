// Counts the rows of the bot's sqlite store (DATA_DIR/bot.sqlite) through a connection of its own, read-only, while
// the bot runs (WAL: a reader sees every committed write).
import path from "node:path";
import sqlite3 from "sqlite3";
import { waitFor } from "./wait";

/** A read-only connection to `<dataDir>/bot.sqlite` for `use`, closed afterwards. */
async function withStore<T>(dataDir: string, use: (db: sqlite3.Database) => Promise<T>): Promise<T> {
  const db = await new Promise<sqlite3.Database>((resolve, reject) => {
    const opened = new sqlite3.Database(path.join(dataDir, "bot.sqlite"), sqlite3.OPEN_READONLY, (e) => (e ? reject(e) : resolve(opened)));
  });
  try {
    return await use(db);
  } finally {
    await new Promise<void>((resolve) => db.close(() => resolve()));
  }
}

/** Every key in the store, expired or not, sorted. */
export function storeKeys(dataDir: string): Promise<string[]> {
  return withStore(dataDir, (db) => new Promise((resolve, reject) =>
    db.all("SELECT key FROM keyv ORDER BY key", (e: Error | null, rows: Array<{ key: string }>) => (e ? reject(e) : resolve(rows.map((r) => r.key))))));
}

export async function storeRows(dataDir: string, keyContains?: string): Promise<number> {
  return withStore(dataDir, async (db) => {
    const [sql, params] = keyContains === undefined
      ? ["SELECT count(*) AS n FROM keyv", []]
      : ["SELECT count(*) AS n FROM keyv WHERE instr(key, ?) > 0", [keyContains]];
    const row = await new Promise<{ n: number }>((resolve, reject) =>
      db.get(sql, params, (e: Error | null, r: { n: number }) => (e ? reject(e) : resolve(r))));
    return row.n;
  });
}

/**
 * Rows of a namespace (`namespace:` a prefix of the key) that have no expiry: the pending entries of the journal and
 * the outbox (src/store/open-entries.ts). With `key`, that key's row only (0 or 1).
 */
export async function openRows(dataDir: string, namespace: string, key?: string): Promise<number> {
  return withStore(dataDir, async (db) => {
    const [sql, params] = key === undefined
      ? ["SELECT count(*) AS n FROM keyv WHERE expires IS NULL AND key >= ? AND key < ?", [`${namespace}:`, `${namespace};`]]
      : ["SELECT count(*) AS n FROM keyv WHERE expires IS NULL AND key = ?", [`${namespace}:${key}`]];
    const row = await new Promise<{ n: number }>((resolve, reject) =>
      db.get(sql, params, (e: Error | null, r: { n: number }) => (e ? reject(e) : resolve(r))));
    return row.n;
  });
}

/** Waits until nothing is pending in the journal or the outbox (their pending entries, index rows and record groups). */
export function storeSettled(dataDir: string): Promise<void> {
  return pollUntil(async () => (await openRows(dataDir, "journal")) + (await openRows(dataDir, "outbox"))
    + (await storeRows(dataDir, "journal-pending:")) + (await storeRows(dataDir, "outbox-pending:"))
    + (await storeRows(dataDir, "outbox-groups:")) === 0,
    "nothing pending in the journal or the outbox");
}

/** Waits until a row whose key contains `keyContains` exists. */
export function rowWritten(dataDir: string, keyContains: string): Promise<void> {
  return pollUntil(async () => (await storeRows(dataDir, keyContains)) > 0, `a store row with ${keyContains}`);
}

/** Polls the store (deadline scaled by TEST_TIME_SCALE, see test/support/wait.ts). */
async function pollUntil(probe: () => Promise<boolean>, what: string): Promise<void> {
  await waitFor(probe, { what, intervalMs: 20 });
}
