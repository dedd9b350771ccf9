export { INBOX_NAME, type HeldTransaction, type InboxStore } from "./inbox-store";
import type { ParsedStoreUrl } from "../store";
import { INBOX_NAME, type InboxStore } from "./inbox-store";
import { PostgresInboxStore } from "./postgres-inbox";
import { RedisInboxStore } from "./redis-inbox";
export { HeldTransactions, type HeldTransactionsOptions } from "./held-transactions";

/** The standby's transaction queue of a shared STORE_URL (PostgreSQL or Redis); undefined for SQLite (no standby). */
export function openInboxStore(parsed: ParsedStoreUrl, timeoutMs: number, onError: (error: Error) => void, name = INBOX_NAME): InboxStore | undefined {
  switch (parsed.backend) {
    case "postgres":
      return new PostgresInboxStore(parsed.url, name, timeoutMs, onError);
    case "redis":
      return new RedisInboxStore(parsed.url, name, timeoutMs, onError);
    case "sqlite":
      return undefined;
  }
}
