// Counts the rows of the bot's sqlite store (DATA_DIR/bot.sqlite) through a connection of its own, read-only, while
// the bot runs (WAL: a reader sees every committed write).
import path from "node:path";
import sqlite3 from "sqlite3";
import { waitFor } from "../../support/wait";

export async function storeRows(dataDir: string, keyContains?: string): Promise<number> {
  const db = await new Promise<sqlite3.Database>((resolve, reject) => {
    const opened = new sqlite3.Database(path.join(dataDir, "bot.sqlite"), sqlite3.OPEN_READONLY, (e) => (e ? reject(e) : resolve(opened)));
  });
  try {
    const [sql, params] = keyContains === undefined
      ? ["SELECT count(*) AS n FROM keyv", []]
      : ["SELECT count(*) AS n FROM keyv WHERE instr(key, ?) > 0", [keyContains]];
    const row = await new Promise<{ n: number }>((resolve, reject) =>
      db.get(sql, params, (e: Error | null, r: { n: number }) => (e ? reject(e) : resolve(r))));
    return row.n;
  } finally {
    await new Promise<void>((resolve) => db.close(() => resolve()));
  }
}

/** Waits until nothing is pending in the journal or the outbox (their index rows go once an item is done). */
export function storeSettled(dataDir: string): Promise<void> {
  return pollUntil(async () => (await storeRows(dataDir, "journal-pending:")) + (await storeRows(dataDir, "outbox-pending:")) === 0,
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
