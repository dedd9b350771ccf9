// The bot's recent answers per room (namespace "room-memory"), one store entry per answer: slot `<n>` of a room is the
// key `as|<n>|<room>` holding `{ seq, answer }` (`seq` orders the answers, newest highest). The slots in use are always
// 0 … count − 1: a new answer takes the next slot, or, once `answersMax` are kept, the slot of the oldest; a forgotten
// answer's slot is filled by the answer in the last slot. So an answer costs one small write however many the room
// keeps (one record rewritten per answer grew with them: ~20 KB and ~0.3 ms of CPU per turn at 100 answers), and
// reading a room back stops at the first slot group that is not full.
// Stores written before kept one record per room (`a|<room>`: `{ v: 1, answers }`, oldest first): it is read with the
// slots, and at the room's next change its answers move into slots and the record is deleted. A crash in between
// leaves an answer in two places, read back once (same question, or same seq).
import type Keyv from "keyv";
import type { Logger } from "pino";
import { z } from "zod";
import { KeyedLock } from "../util/keyed-lock";

export const answerEntrySchema = z.object({
  /** The questions this answer answered (Matrix event ids, as people see them: the originals, not their edits). */
  questions: z.array(z.string()).min(1),
  /** Who asked each question (same order). */
  senders: z.array(z.string()),
  /** The bot's messages showing the answer, in order (placeholder and failure notices included). */
  events: z.array(z.string()),
  /** The Matrix thread it was in; none: the room's main timeline. */
  root: z.string().optional(),
  /** When it was (last) answered, ms since the epoch. */
  at: z.number(),
});
export type AnswerEntry = z.infer<typeof answerEntrySchema>;
const legacySchema = z.object({ v: z.literal(1), answers: z.array(answerEntrySchema) });
const slotSchema = z.object({ seq: z.number(), answer: answerEntrySchema });
type Slot = z.infer<typeof slotSchema>;

/** Slots read per round trip when a room is read back. */
const SLOTS_PER_READ = 20;

/**
 * A room's answers in memory: `slots[n]` is what slot n holds. `repair`: the store holds something else as well (the old
 * one-record form, an unreadable or doubled slot, slots up to `stored` − 1): rewritten at the room's next change.
 */
interface RoomAnswers {
  slots: Slot[];
  repair?: { stored: number };
}

export interface AnswerMemoryOptions {
  kv: Keyv<unknown>;
  log: Logger;
  /** Answers remembered per room (ANSWERS_REMEMBERED_MAX). */
  answersMax: number;
  /** Rooms kept in memory. */
  cacheSize: number;
  now: () => number;
}

export class AnswerMemory {
  private readonly cache = new Map<string, RoomAnswers>();
  /** Bumped by every change of a room: a read that started before a change must not cache what it read. */
  private readonly changes = new Map<string, number>();
  private readonly locks = new KeyedLock();

  constructor(private readonly opts: AnswerMemoryOptions) {}

  /** Records an answer; one that answered any of the same questions before is replaced. */
  async record(roomId: string, entry: Omit<AnswerEntry, "at">): Promise<void> {
    await this.change(roomId, async (room) => {
      const answer: AnswerEntry = { ...entry, at: this.opts.now() };
      const replaced: number[] = [];
      let seq = 0;
      let oldest = 0;
      room.slots.forEach((slot, index) => {
        seq = Math.max(seq, slot.seq + 1);
        if (slot.seq < (room.slots[oldest]?.seq ?? 0)) oldest = index;
        if (slot.answer.questions.some((q) => entry.questions.includes(q))) replaced.push(index);
      });
      // The slot it goes to: the first answer it replaces, else the next one, else the oldest answer's.
      const target = replaced[0] ?? (room.slots.length >= this.opts.answersMax ? oldest : room.slots.length);
      await this.put(roomId, room, target, { seq, answer });
      await this.remove(roomId, room, replaced.slice(1));
    });
  }

  /** Forgets the answer to a question (its messages were redacted). */
  async forget(roomId: string, questionId: string): Promise<void> {
    await this.change(roomId, async (room) => this.remove(roomId, room, indexesOf(room.slots, (s) => s.answer.questions.includes(questionId))));
  }

  /** The remembered answer to a question, if any. */
  async answerTo(roomId: string, questionId: string): Promise<AnswerEntry | undefined> {
    return newest((await this.read(roomId)).slots, (a) => a.questions.includes(questionId));
  }

  /** Whether `entry` is the newest answer of its thread (or of the main timeline). */
  async isLastOfItsThread(roomId: string, entry: AnswerEntry): Promise<boolean> {
    const last = newest((await this.read(roomId)).slots, (a) => a.root === entry.root);
    return last !== undefined && last.questions[0] === entry.questions[0];
  }

  /** Runs a change of the room under its lock; its state is read again afterwards if the change failed part way. */
  private async change(roomId: string, work: (room: RoomAnswers) => Promise<void>): Promise<void> {
    await this.locks.run(roomId, async () => {
      const current = await this.read(roomId);
      const room: RoomAnswers = { slots: [...current.slots] };
      this.cache.delete(roomId);
      this.changes.set(roomId, (this.changes.get(roomId) ?? 0) + 1);
      if (this.changes.size > this.opts.cacheSize) this.changes.delete(this.changes.keys().next().value ?? "");
      if (current.repair) await this.rewrite(roomId, room, current.repair.stored);
      await work(room);
      this.remember(roomId, room);
    });
  }

  /** Writes every answer into its slot, then deletes the slots beyond them and the old one-record form. */
  private async rewrite(roomId: string, room: RoomAnswers, stored: number): Promise<void> {
    await Promise.all(room.slots.map((slot, index) => this.opts.kv.set(slotKey(index, roomId), slot)));
    const extra = Array.from({ length: Math.max(0, stored - room.slots.length) }, (_, i) => slotKey(room.slots.length + i, roomId));
    await this.opts.kv.delete([legacyKey(roomId), ...extra]);
  }

  private async put(roomId: string, room: RoomAnswers, index: number, slot: Slot): Promise<void> {
    await this.opts.kv.set(slotKey(index, roomId), slot);
    room.slots[index] = slot;
  }

  /** Empties these slots (ascending): each is filled from the last slot in use, which is then deleted. */
  private async remove(roomId: string, room: RoomAnswers, indexes: number[]): Promise<void> {
    for (const index of [...indexes].reverse()) {
      const lastIndex = room.slots.length - 1;
      const last = room.slots[lastIndex];
      if (last === undefined) return;
      if (index !== lastIndex) await this.put(roomId, room, index, last);
      await this.opts.kv.delete(slotKey(lastIndex, roomId));
      room.slots.pop();
    }
  }

  private async read(roomId: string): Promise<RoomAnswers> {
    const cached = this.cache.get(roomId);
    if (cached !== undefined) return cached;
    const changesBefore = this.changes.get(roomId) ?? 0;
    const room = await this.load(roomId);
    if ((this.changes.get(roomId) ?? 0) === changesBefore) this.remember(roomId, room);
    return room;
  }

  /** Reads the slots group by group until one is not full, and the old one-record form with the first group. */
  private async load(roomId: string): Promise<RoomAnswers> {
    const max = this.opts.answersMax;
    const found: Slot[] = [];
    let legacy: unknown;
    let stored = 0;
    let odd = false; // an unreadable or doubled slot
    for (let start = 0; start < max; start += SLOTS_PER_READ) {
      const keys = Array.from({ length: Math.min(SLOTS_PER_READ, max - start) }, (_, i) => slotKey(start + i, roomId));
      const values = await this.opts.kv.getMany(start === 0 ? [legacyKey(roomId), ...keys] : keys);
      if (start === 0) legacy = values.shift();
      values.forEach((value, i) => {
        if (value === undefined) return;
        stored = start + i + 1;
        const slot = this.parse(slotSchema, value, roomId);
        if (slot === undefined || found.some((s) => s.seq === slot.seq)) odd = true;
        else found.push(slot);
      });
      if (values.some((v) => v === undefined)) break;
    }
    odd ||= stored !== found.length;
    if (legacy === undefined && !odd) return { slots: found };
    // The old record's answers are older than any slot's; one already moved to a slot is read once.
    const moved = new Set(found.map((s) => s.answer.questions[0]));
    const older = (this.parse(legacySchema, legacy, roomId)?.answers ?? []).filter((a) => !moved.has(a.questions[0]));
    const first = found.reduce((min, s) => Math.min(min, s.seq), 0);
    const merged = [...older.map((answer, i) => ({ seq: first - older.length + i, answer })), ...found];
    return { slots: merged.sort((a, b) => a.seq - b.seq).slice(-max), repair: { stored } };
  }

  private parse<T>(schema: z.ZodType<T>, value: unknown, roomId: string): T | undefined {
    if (value === undefined) return undefined;
    const parsed = schema.safeParse(value);
    if (!parsed.success) this.opts.log.warn({ roomId }, "room memory record unreadable; left out");
    return parsed.success ? parsed.data : undefined;
  }

  private remember(roomId: string, room: RoomAnswers): void {
    this.cache.delete(roomId);
    this.cache.set(roomId, room);
    if (this.cache.size > this.opts.cacheSize) this.cache.delete(this.cache.keys().next().value ?? "");
  }
}

function legacyKey(roomId: string): string {
  return `a|${roomId}`;
}

/** The slot number first: a room id may contain any character. */
function slotKey(index: number, roomId: string): string {
  return `as|${index}|${roomId}`;
}

function indexesOf(slots: readonly Slot[], test: (slot: Slot) => boolean): number[] {
  const out: number[] = [];
  slots.forEach((slot, index) => {
    if (test(slot)) out.push(index);
  });
  return out;
}

/** The newest answer matching `test`. */
function newest(slots: readonly Slot[], test: (answer: AnswerEntry) => boolean): AnswerEntry | undefined {
  let best: Slot | undefined;
  for (const slot of slots) if (test(slot.answer) && (best === undefined || slot.seq > best.seq)) best = slot;
  return best?.answer;
}
