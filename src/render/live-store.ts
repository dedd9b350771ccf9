// The live messages in flight, kept in the store (namespace "live-messages", key: the txnId of the message's
// first event) so that after a crash none stays live: the record holds the text as last sent (written before
// each edit is sent: after a crash it holds at least what the room shows), the edit count and the first
// event's content. A turn run again after a restart claims its message's record: it continues that message
// and its edit count, and the recovery leaves a claimed record alone. A run newly begun (its txnIds no attempt used
// before: src/outbox/unrecorded.ts) claims without a read: there is nothing to continue.
import type Keyv from "keyv";
import type { Logger } from "pino";
import { z } from "zod";
import type { UnrecordedCheck } from "../outbox/unrecorded";

export const liveRecordSchema = z.object({
  key: z.string().min(1),
  roomId: z.string().min(1),
  runId: z.string(),
  /** Known once the first event was accepted. */
  eventId: z.string().optional(),
  /** The first event's content, as sent (recovery re-sends it with the same txnId to learn its event id). */
  initial: z.record(z.string(), z.unknown()),
  /** The markdown of the last edit sent (or being sent). */
  text: z.string(),
  msgtype: z.enum(["m.text", "m.notice"]),
  /** Edits sent so far. */
  edits: z.number().int().nonnegative(),
  updatedAt: z.number(),
  /** The agent's work shown above the text (the first Matrix message of an agent message only). */
  work: z.object({ body: z.string(), html: z.string() }).optional(),
  /** Set by the recovery once it sent the "(interrupted)" edit; kept a day for a turn that runs again. */
  interruptedAt: z.number().optional(),
});
export type LiveRecord = z.infer<typeof liveRecordSchema>;

export class LiveStore {
  /** Keys a run took over: the recovery does not touch them. */
  private readonly claimed = new Set<string>();
  /** Keys the recovery is working on. */
  private readonly recovering = new Map<string, Promise<void>>();

  /** `unrecorded`: keys no attempt can have written yet (a fresh run's: src/outbox/unrecorded.ts): claimed without a read. */
  constructor(private readonly kv: Keyv<unknown>, private readonly log: Logger, private readonly unrecorded?: UnrecordedCheck) {}

  async get(key: string): Promise<LiveRecord | undefined> {
    try {
      const raw = await this.kv.get(key);
      if (raw === undefined) return undefined;
      const parsed = liveRecordSchema.safeParse(raw);
      if (parsed.success) return parsed.data;
      this.log.warn({ key }, "live message record unreadable; dropped");
      await this.kv.delete(key);
    } catch (err) {
      this.log.warn({ key, err: String(err) }, "live message record could not be read");
    }
    return undefined;
  }

  /** Saves a record; a store failure is logged (the message then has no recovery), never thrown. */
  async put(record: LiveRecord): Promise<void> {
    try {
      await this.kv.set(record.key, record);
    } catch (err) {
      this.log.warn({ key: record.key, err: String(err) }, "live message record could not be saved");
    }
  }

  async remove(key: string): Promise<void> {
    this.claimed.delete(key);
    try {
      await this.kv.delete(key);
    } catch (err) {
      this.log.warn({ key, err: String(err) }, "live message record could not be removed");
    }
  }

  /**
   * A run (again) writing the message of `key`: waits for its recovery, if under way, and returns its record. A fresh
   * run's key (`unrecorded`) has none: nothing is read.
   */
  async claim(key: string): Promise<LiveRecord | undefined> {
    this.claimed.add(key);
    if (this.unrecorded?.covers(key) === true) return undefined; // none to continue, none being recovered
    await this.recovering.get(key);
    return this.get(key);
  }

  /** A run that claimed `key` wrote no record for it after all. */
  release(key: string): void {
    this.claimed.delete(key);
  }

  /** Runs `work` for `key` unless a run claimed it; claim() waits for it meanwhile. */
  async recoverOne(key: string, work: () => Promise<void>): Promise<void> {
    if (this.claimed.has(key) || this.recovering.has(key)) return;
    const running = work().finally(() => this.recovering.delete(key));
    this.recovering.set(key, running.catch(() => undefined));
    await running;
  }

  /** Every readable record. */
  async list(): Promise<LiveRecord[]> {
    const iterate = this.kv.iterator;
    if (!iterate) throw new Error("this store cannot list a namespace, which live message recovery needs");
    const records: LiveRecord[] = [];
    for await (const [, value] of iterate(undefined)) {
      const parsed = liveRecordSchema.safeParse(value);
      if (parsed.success) records.push(parsed.data);
    }
    return records;
  }
}
