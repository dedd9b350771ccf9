// Where a standby keeps the appservice transactions it answered (issue 30, runbook/scale-out.md): a queue on the
// shared server, in arrival order, that the active takes them from. Like the lease it lives beside the keyv store
// (PostgreSQL: a table of its own; Redis: a stream), on connections of its own: listing it is one cheap statement,
// where listing a keyv namespace scans the store (Redis SCANs every key), and store-copy never sees it.

/** A transaction a standby answered 200 and stored for the active. */
export interface HeldTransaction {
  /** The queue's id for it (arrival order). */
  id: string;
  /** The homeserver's transaction id. */
  txnId: string;
  /** The transaction body, as JSON text. */
  body: string;
}

export interface InboxStore {
  /** Stores a transaction durably (resolves once the server has it). */
  add(txnId: string, body: string): Promise<void>;
  /** The oldest `limit` held transactions, oldest first. */
  list(limit: number): Promise<HeldTransaction[]>;
  /** Removes them once the active made their events durable in its journal. */
  remove(ids: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

export const INBOX_NAME = "bot";
