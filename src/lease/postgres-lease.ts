// The lease on PostgreSQL: a row of its own table `mab_lease` (not the keyv table, so store-copy never copies it).
// Every change is one statement, atomic on the server: INSERT … ON CONFLICT DO UPDATE … WHERE (the row is locked
// while the condition is checked), UPDATE … WHERE holder AND token. Expiry is the server's clock_timestamp().
import type { LeaseRecord, LeaseStore } from "./lease-store";
import { PgTableClient } from "./native-clients";

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
  private readonly pg: PgTableClient;

  /** `timeoutMs`: how long one statement (or a connection attempt) may take before it fails. */
  constructor(url: string, private readonly name: string, timeoutMs: number, onError: (error: Error) => void) {
    this.pg = new PgTableClient(url, CREATE, timeoutMs, onError); // an idle connection broken (server restart): reported
  }

  private query(sql: string, values: unknown[]): ReturnType<PgTableClient["query"]> {
    return this.pg.query(sql, values);
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
    await this.pg.close();
  }
}
