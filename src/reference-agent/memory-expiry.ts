// What keeps the reference agent's memory bounded: a conversation's history is deleted once it has gone unused for
// LLM_HISTORY_TTL_DAYS, and a room's older conversations are deleted as soon as a newer generation of that room
// (after `/reset`) reaches the agent. The bot's thread keys carry the room and the generation (src/rooms/thread-key.ts);
// other thread ids only expire.
// Two explicit indexes, so that nothing ever lists the memory namespace (keyv lists by scanning):
//   "agent-memory-days":  day number → the thread ids used that day; the sweep reads only the days that have
//                         expired, deletes what was not used since, then the day; "swept" → the last day done.
//   "agent-memory-rooms": room id → { generation, threads }: the newest generation seen and its thread ids.
import type Keyv from "keyv";
import type { Logger } from "pino";
import { z } from "zod";
import { decodeThreadKey } from "../rooms/thread-key";
import { KeyedLock } from "../util/keyed-lock";

export const MEMORY_DAYS_NAMESPACE = "agent-memory-days";
export const MEMORY_ROOMS_NAMESPACE = "agent-memory-rooms";

export const DAY_MS = 86_400_000;
const SWEPT = "swept";

const threadListSchema = z.array(z.string());
const roomEntrySchema = z.object({ generation: z.number().int().min(0), threads: z.array(z.string()) });
type RoomEntry = z.infer<typeof roomEntrySchema>;

export interface MemoryExpiryOptions {
  days: Keyv<unknown>;
  rooms: Keyv<unknown>;
  /** Deletes one thread's history. */
  forget: (threadId: string) => Promise<void>;
  /** When the thread was last used (ms); undefined when it has no history. */
  lastUsed: (threadId: string) => Promise<number | undefined>;
  ttlDays: number;
  now: () => number;
  log?: Logger;
}

export class MemoryExpiry {
  private readonly locks = new KeyedLock();

  constructor(private readonly opts: MemoryExpiryOptions) {}

  get ttlMs(): number {
    return this.opts.ttlDays * DAY_MS;
  }

  /**
   * Before a run of `threadId`: a newer generation of its room deletes the room's older conversations. Resolves
   * false when the thread belongs to a generation older than one already seen (a `/reset` came since).
   */
  async beforeRun(threadId: string): Promise<boolean> {
    const parts = decodeThreadKey(threadId);
    if (parts === undefined) return true;
    return this.locks.run(`room:${parts.roomId}`, async () => {
      const entry = await this.roomEntry(parts.roomId);
      if (entry !== undefined && entry.generation > parts.generation) {
        await this.opts.forget(threadId); // a conversation reset since: nothing of it is kept
        return false;
      }
      if (entry !== undefined && entry.generation < parts.generation) {
        for (const old of entry.threads) await this.opts.forget(old);
        this.opts.log?.info({ roomId: parts.roomId, generation: parts.generation, deleted: entry.threads.length },
          "a room's conversation was reset: its older history was deleted");
      }
      const current = entry?.generation === parts.generation ? entry : { generation: parts.generation, threads: [] };
      if (!current.threads.includes(threadId)) await this.opts.rooms.set(parts.roomId, { ...current, threads: [...current.threads, threadId] });
      return true;
    });
  }

  /** Whether a newer generation of the thread's room has reached the agent (its history is not to be kept). */
  async isStale(threadId: string): Promise<boolean> {
    const parts = decodeThreadKey(threadId);
    if (parts === undefined) return false;
    const entry = await this.roomEntry(parts.roomId);
    return entry !== undefined && entry.generation > parts.generation;
  }

  /** After a thread's history was written at `at`: listed under that day, for the sweep. */
  async used(threadId: string, at: number): Promise<void> {
    const day = String(Math.floor(at / DAY_MS));
    await this.locks.run(`day:${day}`, async () => {
      const listed = threadListSchema.safeParse(await this.opts.days.get(day));
      const threads = listed.success ? listed.data : [];
      if (!threads.includes(threadId)) await this.opts.days.set(day, [...threads, threadId]);
    });
  }

  /** Deletes the histories unused for the TTL: every day bucket old enough, at most once. Returns how many. */
  async sweep(): Promise<number> {
    return this.locks.run("sweep", async () => {
      const lastExpiredDay = Math.floor((this.opts.now() - this.ttlMs) / DAY_MS) - 1;
      const swept = z.number().int().safeParse(await this.opts.days.get(SWEPT));
      if (!swept.success) { // first start with expiry: nothing before today was listed (see listExisting)
        await this.opts.days.set(SWEPT, Math.floor(this.opts.now() / DAY_MS) - 1);
        return 0;
      }
      let deleted = 0;
      for (let day = swept.data + 1; day <= lastExpiredDay; day++) {
        const listed = threadListSchema.safeParse(await this.opts.days.get(String(day)));
        for (const threadId of listed.success ? listed.data : []) if (await this.expire(threadId)) deleted += 1;
        await this.opts.days.delete(String(day));
        await this.opts.days.set(SWEPT, day);
      }
      if (deleted > 0) this.opts.log?.info({ deleted, ttlDays: this.opts.ttlDays }, "conversation histories unused for LLM_HISTORY_TTL_DAYS were deleted");
      return deleted;
    });
  }

  /** True until the first sweep: histories written before expiry existed are then listed once, as used now. */
  async isNew(): Promise<boolean> {
    return (await this.opts.days.get(SWEPT)) === undefined;
  }

  private async expire(threadId: string): Promise<boolean> {
    const at = await this.opts.lastUsed(threadId);
    if (at !== undefined && at > this.opts.now() - this.ttlMs) return false; // used since: listed on a later day
    if (at !== undefined) await this.opts.forget(threadId);
    const parts = decodeThreadKey(threadId);
    if (parts !== undefined) {
      await this.locks.run(`room:${parts.roomId}`, async () => {
        const entry = await this.roomEntry(parts.roomId);
        if (entry === undefined || !entry.threads.includes(threadId)) return;
        const threads = entry.threads.filter((t) => t !== threadId);
        if (threads.length === 0) await this.opts.rooms.delete(parts.roomId);
        else await this.opts.rooms.set(parts.roomId, { ...entry, threads });
      });
    }
    return at !== undefined;
  }

  private async roomEntry(roomId: string): Promise<RoomEntry | undefined> {
    const parsed = roomEntrySchema.safeParse(await this.opts.rooms.get(roomId));
    return parsed.success ? parsed.data : undefined;
  }
}
