// Connections of their own to the shared server, for what needs operations keyv has not (the lease; a standby's
// transaction queue, src/inbox): a small PostgreSQL pool whose table is created on first use, and a Redis client
// that connects on first use. Each statement is bounded by `timeoutMs`; a broken idle connection is reported to
// `onError`, never a crash.
import type { createClient } from "@keyv/redis";

export type PgRow = Record<string, unknown>;
interface PgPool {
  query(sql: string, values?: unknown[]): Promise<{ rows: PgRow[] }>;
  on(event: "error", listener: (error: Error) => void): unknown;
  end(): Promise<void>;
}
type PgPoolClass = new (options: { connectionString: string; max: number; connectionTimeoutMillis: number; query_timeout: number }) => PgPool;

export class PgTableClient {
  private readonly pool: PgPool;
  private ready: Promise<void> | undefined;

  /** `createTable`: a CREATE TABLE IF NOT EXISTS statement, run before the first query. */
  constructor(url: string, private readonly createTable: string, timeoutMs: number, onError: (error: Error) => void) {
    const Pool = (require("pg") as { Pool: PgPoolClass }).Pool;
    this.pool = new Pool({ connectionString: url, max: 2, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
    this.pool.on("error", onError);
  }

  async query(sql: string, values: unknown[]): Promise<PgRow[]> {
    this.ready ??= this.create().catch((error: unknown) => {
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
  private async create(): Promise<void> {
    try {
      await this.pool.query(this.createTable);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code !== "42P07" && code !== "42710" && code !== "23505") throw error;
      await this.pool.query(this.createTable);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

export type RedisClient = ReturnType<typeof createClient>;

export class RedisConnection {
  private readonly client: RedisClient;
  private connecting: Promise<unknown> | undefined;

  constructor(url: string, timeoutMs: number, onError: (error: Error) => void) {
    // A statement while the connection is down fails at once (a renewal that cannot reach Redis is a failed renewal).
    // Loaded here, not at import: a bot without a Redis store never loads the Redis client (module-loading.test.ts).
    const { createClient: create } = require("@keyv/redis") as { createClient: typeof createClient };
    this.client = create({ url, disableOfflineQueue: true,
      socket: { connectTimeout: timeoutMs, reconnectStrategy: (attempt: number) => Math.min(2 ** attempt * 100, 2000) } });
    this.client.on("error", onError);
  }

  async ready(): Promise<RedisClient> {
    if (!this.client.isOpen) {
      this.connecting ??= this.client.connect().finally(() => {
        this.connecting = undefined;
      });
      await this.connecting;
    }
    return this.client;
  }

  async close(): Promise<void> {
    if (this.connecting) await this.connecting.catch(() => undefined);
    if (this.client.isOpen) await this.client.close();
  }
}
