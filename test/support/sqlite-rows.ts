// Reads a bot's sqlite store file as it is on disk, through a connection of its own (WAL lets it read while the
// bot writes): every row, expired or not, so tests count what the store really holds.
import path from "node:path";
import { KeyvSqlite } from "@keyv/sqlite";

export interface StoreRows {
  /** Every key, sorted. */
  keys: string[];
  /** Row count per namespace (the part of the key before the first ":"). */
  perNamespace: Record<string, number>;
}

/** The rows of `<dataDir>/bot.sqlite` (or of the file `file`). */
export async function readStoreRows(opts: { dataDir?: string; file?: string }): Promise<StoreRows> {
  const file = opts.file ?? path.join(opts.dataDir ?? ".", "bot.sqlite");
  const db = new KeyvSqlite({ uri: `sqlite://${file}`, busyTimeout: 5000 });
  try {
    const rows = (await db.query("SELECT key FROM keyv ORDER BY key")) as Array<{ key: string }>;
    const perNamespace: Record<string, number> = {};
    for (const { key } of rows) {
      const ns = key.slice(0, Math.max(0, key.indexOf(":")));
      perNamespace[ns] = (perNamespace[ns] ?? 0) + 1;
    }
    return { keys: rows.map((r) => r.key), perNamespace };
  } finally {
    await db.disconnect();
  }
}

/** The keys of one namespace, without its prefix, sorted. */
export function keysOf(rows: StoreRows, namespace: string): string[] {
  const prefix = `${namespace}:`;
  return rows.keys.filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
}
