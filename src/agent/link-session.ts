// The agent link's session record (sessionId + lastSeq): loaded once for `resume`, saved when a new session
// starts and before every ack. Saves run one at a time, in the order they were asked for.
import type { Logger } from "pino";
import type { PersistedSession, SessionStore } from "./link-types";

export class LinkSession {
  /** The last session record durably saved (what `resume` sends). */
  private saved: PersistedSession | undefined;
  private loaded = false;
  private saveChain: Promise<unknown> = Promise.resolve();

  constructor(private readonly store: SessionStore, private readonly log: Logger) {}

  /** The last record durably saved, if any. */
  get last(): PersistedSession | undefined {
    return this.saved;
  }

  /** What to resume from: loaded on first use (a failed load is tried again next time), after any save in progress. */
  async forResume(): Promise<PersistedSession | undefined> {
    if (!this.loaded) {
      try {
        this.saved = await this.store.load();
        this.loaded = true;
      } catch (err) {
        this.log.error({ err }, "agent link: could not load the saved session; connecting without resume");
      }
    }
    await this.saveChain; // a save in progress decides what we resume from
    return this.saved;
  }

  /** Saves a new session, starting at seq 0; a failure is logged. */
  saveNew(sessionId: string): void {
    const fresh: PersistedSession = { sessionId, lastSeq: 0 };
    this.saveChain = this.saveChain.then(async () => {
      try {
        await this.store.save(fresh);
        this.saved = fresh;
      } catch (err) {
        this.log.error({ err }, "agent link: could not save the new session id");
      }
    });
  }

  /**
   * After earlier saves: saves the record `next` gives (none → false), then, only once it is saved, returns
   * what `afterSave` does (the ack). A failed save is logged and gives false.
   */
  saveThenAck(next: () => PersistedSession | undefined, afterSave: () => boolean): Promise<boolean> {
    const step = this.saveChain.then(async (): Promise<boolean> => {
      const record = next();
      if (record === undefined) return false;
      try {
        await this.store.save(record);
      } catch (err) {
        this.log.error({ err, seq: record.lastSeq }, "agent link: could not persist lastSeq; not acking");
        return false;
      }
      this.saved = record;
      return afterSave();
    });
    this.saveChain = step.catch(() => false);
    return step;
  }

  /** Settles once every save asked for so far has. */
  settled(): Promise<unknown> {
    return this.saveChain;
  }
}
