// The inbound journal's stores on the bot's store: its entries, its pending index, the listing of its entries without
// expiry (Store.openLister: our SQLite, PostgreSQL and Redis adapters; the pending set is then the entries' own and
// the index is only read, for what an earlier version wrote) and the append with no read (Store.inserter; with any
// other keyv adapter the journal reads first and keeps the index).
import type { JournalEntry, JournalStores } from "../matrix/journal";
import type { Store } from "../store";
import { listNamespace } from "./matrix-helpers";

export function journalStores(store: Store): JournalStores {
  const pending = store.namespace<number>("journal-pending");
  const insertNew = store.inserter<JournalEntry>("journal");
  const listOpen = store.openLister<JournalEntry>("journal");
  return { entries: store.namespace("journal"), pending, listPending: () => listNamespace(pending),
    writesInIssueOrder: store.writesInIssueOrder, ...(insertNew ? { insertNew } : {}), ...(listOpen ? { listOpen } : {}) };
}
