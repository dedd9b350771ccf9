export { Lease, LeaseLostError, type LeaseOptions } from "./lease";
export { LEASE_NAME, parseHolder, type LeaseHolder, type LeaseRecord, type LeaseStore } from "./lease-store";
import type { ParsedStoreUrl } from "../store";
import { LEASE_NAME, type LeaseStore } from "./lease-store";
import type { PostgresLeaseStore } from "./postgres-lease";
import type { RedisLeaseStore } from "./redis-lease";

/**
 * The lease store of a shared STORE_URL (PostgreSQL or Redis), on connections of its own; undefined for SQLite (one
 * file, one process: see StoreHolder). `timeoutMs` bounds each statement. Each backend's module is loaded only when
 * used (the Redis client alone is ~10 MB a SQLite bot would carry for nothing).
 */
export function openLeaseStore(parsed: ParsedStoreUrl, timeoutMs: number, onError: (error: Error) => void, name = LEASE_NAME): LeaseStore | undefined {
  switch (parsed.backend) {
    case "postgres":
      return new (require("./postgres-lease") as { PostgresLeaseStore: typeof PostgresLeaseStore }).PostgresLeaseStore(parsed.url, name, timeoutMs, onError);
    case "redis":
      return new (require("./redis-lease") as { RedisLeaseStore: typeof RedisLeaseStore }).RedisLeaseStore(parsed.url, name, timeoutMs, onError);
    case "sqlite":
      return undefined;
  }
}
