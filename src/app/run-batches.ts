// Where the turns' run records live (src/turns/run-batches.ts): the store's "run-batches" namespace, settled turns
// read from the journal.
import type { Logger } from "pino";
import type { Journal } from "../matrix/journal";
import type { Store } from "../store";
import { RunBatches } from "../turns/run-batches";
import { listNamespace } from "./matrix-helpers";

export function runBatchesOn(store: Store, journal: Pick<Journal, "isDone">, log: Logger): RunBatches {
  const records = store.namespace<unknown>("run-batches");
  return new RunBatches({ records, list: () => listNamespace(records), isDone: (roomId, key) => journal.isDone(roomId, key),
    writesInIssueOrder: store.writesInIssueOrder }, log);
}
