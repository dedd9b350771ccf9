// The standby's transaction queue on PostgreSQL: a table of its own, `mab_appservice_inbox` (not the keyv table, so
// store-copy never copies it), ordered by a BIGSERIAL id. The homeserver sends transactions one at a time, so ids
// follow their order.
import { PgTableClient } from "../lease/native-clients";
import type { HeldTransaction, InboxStore } from "./inbox-store";

const CREATE = `CREATE TABLE IF NOT EXISTS mab_appservice_inbox (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL,
  txn_id TEXT NOT NULL, body TEXT NOT NULL, received_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())`;
const ADD = "INSERT INTO mab_appservice_inbox (name, txn_id, body) VALUES ($1, $2, $3)";
const LIST = "SELECT id::text AS id, txn_id, body FROM mab_appservice_inbox WHERE name = $1 ORDER BY id LIMIT $2";
const REMOVE = "DELETE FROM mab_appservice_inbox WHERE id = ANY($1::bigint[])";

export class PostgresInboxStore implements InboxStore {
  private readonly pg: PgTableClient;

  /** `timeoutMs`: how long one statement (or a connection attempt) may take before it fails. */
  constructor(url: string, private readonly name: string, timeoutMs: number, onError: (error: Error) => void) {
    this.pg = new PgTableClient(url, CREATE, timeoutMs, onError);
  }

  async add(txnId: string, body: string): Promise<void> {
    await this.pg.query(ADD, [this.name, txnId, body]);
  }

  async list(limit: number): Promise<HeldTransaction[]> {
    return (await this.pg.query(LIST, [this.name, limit])).map((row) => ({ id: String(row["id"]), txnId: String(row["txn_id"]), body: String(row["body"]) }));
  }

  async remove(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.pg.query(REMOVE, [ids]);
  }

  async close(): Promise<void> {
    await this.pg.close();
  }
}
