// The journal's side of a run's end (PipelineDeps.onSettled): each settled message's attachment released and its
// journal entries marked done, by the run whose answer settled them. On a store that applies writes in issue order
// they are issued together and share one commit (a run killed while marking them leaves all of them done or none);
// elsewhere one after the other (recovery marks the rest of a batch one of whose turns its run settled:
// src/turns/run-batches.ts). Checkpoint "turn-settled" after each entry is marked.
import type { Journal } from "../matrix/journal";
import type { PipelineDeps } from "../turns/pipeline-deps";
import { journalIdsOf } from "../turns/turn-run";
import { checkpoint } from "../util/checkpoints";

export function settleTurns(journal: Pick<Journal, "complete">, writesInIssueOrder: boolean): PipelineDeps["onSettled"] {
  return async (settled, byRun) => {
    const entries = settled.flatMap((m) => {
      m.media?.release();
      return journalIdsOf(m).map((id) => ({ roomId: m.roomId, id }));
    });
    if (writesInIssueOrder) {
      await Promise.all(entries.map((e) => journal.complete(e.roomId, e.id, byRun)));
      for (let i = 0; i < entries.length; i++) checkpoint("turn-settled");
      return;
    }
    for (const e of entries) {
      await journal.complete(e.roomId, e.id, byRun);
      checkpoint("turn-settled");
    }
  };
}
