// The lease on PostgreSQL: a row of its own table `mab_lease` (not the keyv table, so store-copy never copies it).
// Every change is one statement, atomic on the server: INSERT … ON CONFLICT DO UPDATE … WHERE (the row is locked
// while the condition is checked), UPDATE … WHERE holder AND token. Expiry is the server's clock_timestamp().
import type { LeaseRecord, LeaseStore } from "./lease-store";

type Row = Record<string, unknown>;
interface PgPool {
  query(sql: string, values?: unknown[]): Promise<{ rows: Row[] }>;
  on(event: "error", listener: (error: Error) => void): unknown;
  end(): Promise<void>;
}
type PgPoolClass = new (options: { connectionString: string; max: number; connectionTimeoutMillis: number; query_timeout: number }) => PgPool;

const CREATE = `CREATE TABLE IF NOT EXISTS mab_lease (name TEXT PRIMARY KEY, holder TEXT NOT NULL, token BIGINT NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL)`;
const ACQUIRE = `INSERT INTO mab_lease AS l (name, holder, token, expires_at)
  VALUES ($1, $2, 1, clock_timestamp() + $3 * interval '1 millisecond')
  ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, token = l.token + 1, expires_at = EXCLUDED.expires_at
  WHERE l.expires_at <= clock_timestamp() OR l.token = $4
  RETURNING token`;
const RENEW = `UPDATE mab_lease SET expires_at = clock_timestamp() + $4 * interval '1 millisecond'
  WHERE name = $1 AND holder = $2 AND token = $3 AND expires_at > clock_timestamp() RETURNING token`;
const RELEASE = `UPDATE mab_lease SET expires_at = clock_timestamp() WHERE name = $1 AND holder = $2 AND token = $3`;
const READ = `SELECT holder, token, GREATEST(0, EXTRACT(EPOCH FROM (expires_at - clock_timestamp())) * 1000)::float8 AS remaining
  FROM mab_lease WHERE name = $1`;

export class PostgresLeaseStore implements LeaseStore {
  private readonly pool: PgPool;
  private ready: Promise<void> | undefined;

  /** `timeoutMs`: how long one statement (or a connection attempt) may take before it fails. */
  constructor(url: string, private readonly name: string, timeoutMs: number, onError: (error: Error) => void) {
    const Pool = (require("pg") as { Pool: PgPoolClass }).Pool;
    this.pool = new Pool({ connectionString: url, max: 2, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
    this.pool.on("error", onError); // an idle connection broken (server restart): reported, never a crash
  }

  private async query(sql: string, values: unknown[]): Promise<Row[]> {
    this.ready ??= this.createTable().catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    await this.ready;
    return (await this.pool.query(sql, values)).rows;
  }

  /**
   * CREATE TABLE IF NOT EXISTS, once more when it lost a race with another process creating it at the same moment:
   * PostgreSQL then reports the table (42P07) or its row type (42710, or 23505 on pg_type) as existing, and the
   * second try finds the table there.
   */
  private async createTable(): Promise<void> {
    try {
      await this.pool.query(CREATE);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code !== "42P07" && code !== "42710" && code !== "23505") throw error;
      await this.pool.query(CREATE);
    }
  }

  async acquire(holder: string, ttlMs: number, steal?: number): Promise<number | undefined> {
    const rows = await this.query(ACQUIRE, [this.name, holder, ttlMs, steal ?? -1]);
    return rows[0] === undefined ? undefined : Number(rows[0]["token"]);
  }

  async renew(holder: string, token: number, ttlMs: number): Promise<boolean> {
    return (await this.query(RENEW, [this.name, holder, token, ttlMs])).length === 1;
  }

  async release(holder: string, token: number): Promise<void> {
    await this.query(RELEASE, [this.name, holder, token]);
  }

  async read(): Promise<LeaseRecord | undefined> {
    const row = (await this.query(READ, [this.name]))[0];
    if (!row) return undefined;
    return { holder: String(row["holder"]), token: Number(row["token"]), remainingMs: Math.ceil(Number(row["remaining"])) };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
