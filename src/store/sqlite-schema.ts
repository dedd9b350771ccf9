// The SQLite table's schema beyond what @keyv/sqlite creates (`key VARCHAR(255) PRIMARY KEY, value TEXT`):
//   expires  INTEGER   when the entry stops counting (ms since the epoch), NULL for never; written with every
//                      set from the ttl keyv passes down, so the sweep needs no JSON parsing;
//   an index on expires (partial: only rows that expire), so the sweep finds expired rows without a scan;
//   (version 2) an index on the key of the rows that never expire (`<table>_open`, partial): the journal's and the
//   outbox's pending entries are listed from it (open-entries.ts), not from index entries of their own.
// Stores made before the column existed are migrated in place when opened: the column is added and filled from
// the `expires` field keyv serialized into each value. Every step is idempotent and `user_version` is set last,
// so a crash in the middle is finished at the next open.
import type { Logger } from "pino";

export const SCHEMA_VERSION = 2;

type Query = (sql: string, ...params: unknown[]) => Promise<unknown>;

/** Brings the table `table` up to SCHEMA_VERSION. Statements run one at a time on the adapter's connection. */
export async function migrateSqliteSchema(query: Query, table: string, logger?: Logger): Promise<void> {
  const version = Number(((await query("PRAGMA user_version")) as Array<{ user_version?: unknown }>)[0]?.user_version ?? 0);
  if (version >= SCHEMA_VERSION) return;
  if (version < 1) await addExpiryColumn(query, table, version, logger);
  // Built once over the rows there are (a store of many rows: a scan at this first open only).
  await query(`CREATE INDEX IF NOT EXISTS ${table}_open ON ${table}(key) WHERE expires IS NULL`);
  await query(`PRAGMA user_version = ${SCHEMA_VERSION}`);
}

async function addExpiryColumn(query: Query, table: string, version: number, logger: Logger | undefined): Promise<void> {
  const columns = (await query(`PRAGMA table_info(${table})`)) as Array<{ name?: unknown }>;
  if (!columns.some((c) => c.name === "expires")) await query(`ALTER TABLE ${table} ADD COLUMN expires INTEGER`);
  const startedAt = Date.now();
  // Rows written before the column: their expiry is inside the serialized value (keyv's {"value":…,"expires":n}).
  // json_valid first: json_extract fails the whole statement on one malformed value.
  await query(`UPDATE ${table} SET expires = CAST(json_extract(value, '$.expires') AS INTEGER)
    WHERE expires IS NULL AND json_valid(value) AND json_type(value, '$.expires') IN ('integer', 'real')`);
  await query(`CREATE INDEX IF NOT EXISTS ${table}_expires ON ${table}(expires) WHERE expires IS NOT NULL`);
  await query("PRAGMA user_version = 1");
  const [rows] = (await query(`SELECT count(*) AS n, count(expires) AS expiring FROM ${table}`)) as Array<{ n: number; expiring: number }>;
  if (rows && rows.n > 0) {
    logger?.info({ from: version, to: SCHEMA_VERSION, rows: rows.n, rowsThatExpire: rows.expiring, ms: Date.now() - startedAt },
      "store schema migrated in place (expiry column and index)");
  }
}
