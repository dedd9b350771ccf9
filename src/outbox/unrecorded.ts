// Transaction ids under which nothing can have been recorded yet: those of a run that began in this process from an
// event this process journaled first (TurnRun, `fresh`). A run's txnIds all start with `mab.<hash of room and run>.`
// (txnIdFor), so one prefix per run covers them. For such a txnId the outbox does not read its record before it
// records it (none can exist: no earlier attempt used the run's id), and the live messages' store does not look for a
// record an earlier attempt left (LiveStore.claim). A run read from the store again (recovered after a crash or a
// takeover, a resumed or re-run batch, an edited question) opens no prefix: those keep their reads.
// A prefix is open from the run's start to its end (counted: opened twice, closed twice).

/** The run prefix of a txnId made by txnIdFor (`mab.<32 characters>.`), or undefined for any other txnId. */
export function runPrefixOf(txnId: string): string | undefined {
  if (!txnId.startsWith("mab.")) return undefined;
  const end = txnId.indexOf(".", 4);
  return end > 4 ? txnId.slice(0, end + 1) : undefined;
}

export interface UnrecordedCheck {
  /** Whether nothing can be recorded under this txnId (it belongs to a fresh run still going). */
  covers(txnId: string): boolean;
}

export class UnrecordedRuns implements UnrecordedCheck {
  private readonly open = new Map<string, number>();

  /** A fresh run's txnIds (`prefix`, see runPrefixOf) are covered until the returned function is called. */
  begin(prefix: string): () => void {
    this.open.set(prefix, (this.open.get(prefix) ?? 0) + 1);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const left = (this.open.get(prefix) ?? 1) - 1;
      if (left > 0) this.open.set(prefix, left);
      else this.open.delete(prefix);
    };
  }

  covers(txnId: string): boolean {
    if (this.open.size === 0) return false;
    const prefix = runPrefixOf(txnId);
    return prefix !== undefined && this.open.has(prefix);
  }

  /** Prefixes open now (tests: none is left once the runs ended). */
  get size(): number {
    return this.open.size;
  }
}
