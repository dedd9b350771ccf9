// Where the turns' run records live (src/turns/run-batches.ts): the store's "run-batches" namespace, settled turns
// read from the journal.
import type { Logger } from "pino";
import type { Journal } from "../matrix/journal";
import type { Store } from "../store";
import { RunBatches } from "../turns/run-batches";
import { listNamespace } from "./matrix-helpers";

export function runBatchesOn(store: Store, journal: Pick<Journal, "doneState" | "complete">, log: Logger): RunBatches {
  const records = store.namespace<unknown>("run-batches");
  return new RunBatches({ records, list: () => listNamespace(records), doneState: (roomId, key) => journal.doneState(roomId, key),
    complete: (roomId, key, by) => journal.complete(roomId, key, by),
    writesInIssueOrder: store.writesInIssueOrder }, log);
}
