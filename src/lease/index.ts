export { Lease, LeaseLostError, type LeaseOptions } from "./lease";
export { LEASE_NAME, parseHolder, type LeaseHolder, type LeaseRecord, type LeaseStore } from "./lease-store";
import type { ParsedStoreUrl } from "../store";
import { LEASE_NAME, type LeaseStore } from "./lease-store";
import { PostgresLeaseStore } from "./postgres-lease";
import { RedisLeaseStore } from "./redis-lease";

/**
 * The lease store of a shared STORE_URL (PostgreSQL or Redis), on connections of its own; undefined for SQLite (one
 * file, one process: see StoreHolder). `timeoutMs` bounds each statement.
 */
export function openLeaseStore(parsed: ParsedStoreUrl, timeoutMs: number, onError: (error: Error) => void, name = LEASE_NAME): LeaseStore | undefined {
  switch (parsed.backend) {
    case "postgres":
      return new PostgresLeaseStore(parsed.url, name, timeoutMs, onError);
    case "redis":
      return new RedisLeaseStore(parsed.url, name, timeoutMs, onError);
    case "sqlite":
      return undefined;
  }
}
