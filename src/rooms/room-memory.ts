// What the bot remembers of each room's conversation (namespace "room-memory"), bounded per room:
// - `t|<room>`: the Matrix threads it was asked in (the newest `threadsMax`). In a group room whose /threads setting is
//   "follow", a later message in such a thread addresses the bot without a mention.
// - its recent answers (the newest `answersMax`, answer-memory.ts: one entry per answer): which questions each one
//   answered, who asked them, and which of the bot's messages show it. A question redacted later takes its answer
//   with it; the last question of a thread, edited soon enough, is answered again by editing that answer.
// Read through a bounded cache (this process is the only writer), written under a per-room lock. Store failures are
// thrown: the router tries the event again; the pipeline logs a lost answer record.
import type Keyv from "keyv";
import type { Logger } from "pino";
import { z } from "zod";
import { KeyedLock } from "../util/keyed-lock";
import { AnswerMemory, type AnswerEntry } from "./answer-memory";

export { answerEntrySchema, type AnswerEntry } from "./answer-memory";

const threadsSchema = z.object({ v: z.literal(1), threads: z.array(z.object({ root: z.string(), at: z.number() })) });
type ThreadsRecord = z.infer<typeof threadsSchema>;

export interface RoomMemoryOptions {
  kv: Keyv<unknown>;
  log: Logger;
  /** Threads remembered per room (THREADS_FOLLOWED_MAX). Default 200. */
  threadsMax?: number;
  /** Answers remembered per room (ANSWERS_REMEMBERED_MAX). Default 100. */
  answersMax?: number;
  /** Records kept in memory. Default 2,000. */
  cacheSize?: number;
  now?: () => number;
}

export class RoomMemory {
  private readonly cache = new Map<string, ThreadsRecord>();
  /** Bumped by every write of a key: a read that started before a write must not cache what it read. */
  private readonly writes = new Map<string, number>();
  private readonly locks = new KeyedLock();
  private readonly threadsMax: number;
  private readonly cacheSize: number;
  private readonly now: () => number;
  private readonly answers: AnswerMemory;

  constructor(private readonly opts: RoomMemoryOptions) {
    this.threadsMax = Math.max(1, opts.threadsMax ?? 200);
    this.cacheSize = Math.max(1, opts.cacheSize ?? 2_000);
    this.now = opts.now ?? Date.now;
    this.answers = new AnswerMemory({ kv: opts.kv, log: opts.log, answersMax: Math.max(1, opts.answersMax ?? 100),
      cacheSize: this.cacheSize, now: this.now });
  }

  /** Whether the bot was asked in this thread (and still remembers it). */
  async isFollowed(roomId: string, root: string): Promise<boolean> {
    return (await this.threads(roomId)).threads.some((t) => t.root === root);
  }

  /** The bot was asked in this thread: later messages there address it (in rooms that follow threads). */
  async follow(roomId: string, root: string): Promise<void> {
    await this.locks.run(`t|${roomId}`, async () => {
      const current = await this.threads(roomId);
      const index = current.threads.findIndex((t) => t.root === root);
      // Already among the newer half: no write (an answer per message would otherwise rewrite the record each time).
      if (index >= 0 && index >= current.threads.length - Math.ceil(this.threadsMax / 2)) return;
      const threads = [...current.threads.filter((t) => t.root !== root), { root, at: this.now() }].slice(-this.threadsMax);
      await this.save(`t|${roomId}`, { v: 1, threads });
    });
  }

  /** Records an answer; one that answered any of the same questions before is replaced. */
  async recordAnswer(roomId: string, entry: Omit<AnswerEntry, "at">): Promise<void> {
    await this.answers.record(roomId, entry);
    if (entry.root !== undefined) await this.follow(roomId, entry.root);
  }

  /** The remembered answer to a question, if any. */
  async answerTo(roomId: string, questionId: string): Promise<AnswerEntry | undefined> {
    return this.answers.answerTo(roomId, questionId);
  }

  /** Whether `entry` is the newest answer of its thread (or of the main timeline). */
  async isLastOfItsThread(roomId: string, entry: AnswerEntry): Promise<boolean> {
    return this.answers.isLastOfItsThread(roomId, entry);
  }

  /** Forgets the answer to a question (its messages were redacted). */
  async forgetAnswer(roomId: string, questionId: string): Promise<void> {
    await this.answers.forget(roomId, questionId);
  }

  private async threads(roomId: string): Promise<ThreadsRecord> {
    return this.read(`t|${roomId}`, threadsSchema, { v: 1, threads: [] });
  }

  private async read<T extends ThreadsRecord>(key: string, schema: z.ZodType<T>, empty: T): Promise<T> {
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached as T;
    const writesBefore = this.writes.get(key) ?? 0;
    const raw = await this.opts.kv.get(key);
    let value = empty;
    if (raw !== undefined) {
      const parsed = schema.safeParse(raw);
      if (parsed.success) value = parsed.data;
      else this.opts.log.warn({ key }, "room memory record unreadable; starting it afresh");
    }
    if ((this.writes.get(key) ?? 0) === writesBefore) this.remember(key, value);
    return value;
  }

  private async save(key: string, value: ThreadsRecord): Promise<void> {
    this.cache.delete(key);
    this.writes.set(key, (this.writes.get(key) ?? 0) + 1);
    await this.opts.kv.set(key, value);
    this.remember(key, value);
    if (this.writes.size > this.cacheSize) this.writes.delete(this.writes.keys().next().value ?? "");
  }

  private remember(key: string, value: ThreadsRecord): void {
    this.cache.delete(key);
    this.cache.set(key, value);
    if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value ?? "");
  }
}

/** Records a batch's answer: its questions as people see them (the originals, not their edits), and their senders. */
export async function rememberAnswer(memory: Pick<RoomMemory, "recordAnswer">,
  batch: ReadonlyArray<{ roomId: string; eventId: string; sender: string; threadRootId?: string }>, eventIds: string[]): Promise<void> {
  const [first] = batch;
  if (!first || eventIds.length === 0) return;
  await memory.recordAnswer(first.roomId, { questions: batch.map((m) => m.eventId), senders: batch.map((m) => m.sender), events: eventIds,
    ...(first.threadRootId ? { root: first.threadRootId } : {}) });
}
