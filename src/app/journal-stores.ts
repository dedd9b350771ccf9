// The inbound journal's stores on the bot's store: its entries, its pending index, and the append with no read
// (Store.inserter: our SQLite, PostgreSQL and Redis adapters; with any other keyv adapter the journal reads first).
import type { JournalEntry, JournalStores } from "../matrix/journal";
import type { Store } from "../store";
import { listNamespace } from "./matrix-helpers";

export function journalStores(store: Store): JournalStores {
  const pending = store.namespace<number>("journal-pending");
  const insertNew = store.inserter<JournalEntry>("journal");
  return { entries: store.namespace("journal"), pending, listPending: () => listNamespace(pending),
    writesInIssueOrder: store.writesInIssueOrder, ...(insertNew ? { insertNew } : {}) };
}
