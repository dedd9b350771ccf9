// Per-room settings (namespace "room-settings") and the proactive opt-in index (namespace "proactive-rooms").
//
// The opt-in lives ONLY in the index: key room id → the time it was opted in. Fan-out lists that namespace
// and nothing else, so it never scans every room's settings and can never disagree with them.
// A stored settings value that fails the schema (or has another version) is logged without its content and
// replaced by the defaults for that room. Store failures are retried, then surface as SettingsUnavailableError.
import type Keyv from "keyv";
import type { Logger } from "pino";
import { z } from "zod";
import { StoreError } from "../store/errors";
import { KeyedLock } from "../util/keyed-lock";
import { settingsCacheFor, type SettingsCache } from "./settings-cache";

export const ROOM_SETTINGS_VERSION = 1;

export const roomSettingsSchema = z.object({
  version: z.literal(ROOM_SETTINGS_VERSION),
  /** Bumped by /reset: part of the thread key, so a new generation is a fresh agent conversation. */
  threadGeneration: z.number().int().min(0).default(0),
  /** Group rooms: answer only when addressed ("mention") or every message ("all"). */
  replyMode: z.enum(["mention", "all"]).default("mention"),
  /** `/stream on|off`: answers shown as they are written, or only when complete; unset: STREAMING decides. */
  streaming: z.enum(["on", "off"]).optional(),
  /** Group rooms: a Matrix thread the bot was asked in addresses it for its later messages ("follow"), or not. */
  threads: z.enum(["follow", "mention"]).default("follow"),
  /** `/toollines on|off`: the agent's tool lines stay in the finished answer (default on). */
  toolLines: z.enum(["on", "off"]).optional(),
  /** `/details on|off`: tool arguments, results and the agent's thinking, folded (default off). */
  details: z.enum(["on", "off"]).optional(),
  /** `/agent <name>`: the agent of this room (and, for a space, the default of its child rooms); unset: the default. */
  agent: z.string().optional(),
});
export type RoomSettings = z.infer<typeof roomSettingsSchema>;
export type ReplyMode = RoomSettings["replyMode"];
export type RoomSettingsPatch = Partial<Omit<RoomSettings, "version">>;

// Explicit, without defaults: zod 4 applies a field's default inside .partial(), which would reset fields.
const patchSchema = z.object({
  threadGeneration: z.number().int().min(0).optional(),
  replyMode: z.enum(["mention", "all"]).optional(),
  streaming: z.enum(["on", "off"]).optional(),
  threads: z.enum(["follow", "mention"]).optional(),
  toolLines: z.enum(["on", "off"]).optional(),
  details: z.enum(["on", "off"]).optional(),
  agent: z.string().optional(),
});
const indexValueSchema = z.number();

export function defaultRoomSettings(): RoomSettings {
  return roomSettingsSchema.parse({ version: ROOM_SETTINGS_VERSION });
}

/** The store stayed unavailable through every retry. `userMessage` is safe to show in the room. */
export class SettingsUnavailableError extends StoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message,
      "I couldn't save that because my storage is unavailable right now. Please try again in a minute.", options);
  }
}

export interface RoomSettingsStoreOptions {
  settings: Keyv<unknown>;
  proactiveIndex: Keyv<number>;
  log: Logger;
  /** Extra attempts after a failed store operation. Default 3. */
  retries?: number;
  /** First backoff between attempts, doubled each time. Default 100 ms. */
  retryDelayMs?: number;
  /** Clock for the opt-in timestamp. Default Date.now. */
  now?: () => number;
  /** Rooms whose parsed settings are kept in memory (every message reads them). Default 10,000. */
  cacheSize?: number;
}

export class RoomSettingsStore {
  private readonly settings: Keyv<unknown>;
  private readonly index: Keyv<number>;
  private readonly log: Logger;
  private readonly retries: number;
  private readonly retryDelayMs: number;
  private readonly now: () => number;
  private readonly cache: SettingsCache;
  /** Read-modify-write per room, one at a time (this process is the only writer). */
  private readonly locks = new KeyedLock();

  constructor(opts: RoomSettingsStoreOptions) {
    this.settings = opts.settings;
    this.index = opts.proactiveIndex;
    this.log = opts.log;
    this.retries = Math.max(0, opts.retries ?? 3);
    this.retryDelayMs = Math.max(0, opts.retryDelayMs ?? 100);
    this.now = opts.now ?? Date.now;
    this.cache = settingsCacheFor(opts.settings, Math.max(0, opts.cacheSize ?? 10_000));
  }

  /**
   * The room's settings; the defaults when none are stored or the stored value is unreadable. Every message asks
   * (its thread key, its live rendering): a room in memory answers without the two async steps of a read.
   */
  get(roomId: string): Promise<RoomSettings> {
    const cached = this.cache.get(roomId);
    return cached !== undefined ? Promise.resolve(cached) : this.getStored(roomId);
  }

  private async getStored(roomId: string): Promise<RoomSettings> {
    const read = await this.read(roomId);
    if (read.corrupt) await this.locks.run(roomId, () => this.repair(roomId));
    return read.settings;
  }

  async update(roomId: string, patch: RoomSettingsPatch): Promise<RoomSettings> {
    const checked = patchSchema.parse(patch);
    return this.locks.run(roomId, async () => {
      const { settings: current } = await this.read(roomId); // an unreadable value is overwritten just below
      const next = roomSettingsSchema.parse({ ...current, ...dropUndefined(checked), version: ROOM_SETTINGS_VERSION });
      await this.save(roomId, next);
      return next;
    });
  }

  /** Starts a fresh agent conversation in the room; returns the new generation. */
  async bumpThreadGeneration(roomId: string): Promise<number> {
    return this.locks.run(roomId, async () => {
      const { settings: current } = await this.read(roomId);
      const next: RoomSettings = { ...current, threadGeneration: current.threadGeneration + 1 };
      await this.save(roomId, next);
      return next.threadGeneration;
    });
  }

  private async read(roomId: string): Promise<{ settings: RoomSettings; corrupt: boolean }> {
    const cached = this.cache.get(roomId);
    if (cached !== undefined) return { settings: cached, corrupt: false };
    const started = this.cache.beginRead(roomId);
    let raw: unknown;
    let unchanged = false;
    try {
      raw = await this.retry("read room settings", roomId, () => this.settings.get(roomId));
    } finally {
      unchanged = this.cache.endRead(started);
    }
    const current = (settings: RoomSettings): RoomSettings =>
      unchanged ? this.cache.remember(roomId, settings) : Object.freeze({ ...settings });
    if (raw === undefined) return { settings: current(defaultRoomSettings()), corrupt: false };
    const parsed = roomSettingsSchema.safeParse(raw);
    if (parsed.success) return { settings: current(parsed.data), corrupt: false };
    this.log.warn({ roomId }, "stored room settings are unreadable; replaced by the defaults");
    return { settings: defaultRoomSettings(), corrupt: true };
  }

  /** Writes the defaults over a still-unreadable value (under the room's lock). Best effort. */
  private async repair(roomId: string): Promise<void> {
    try {
      const raw = await this.retry("read room settings", roomId, () => this.settings.get(roomId));
      if (raw === undefined || roomSettingsSchema.safeParse(raw).success) return; // changed meanwhile
      await this.save(roomId, defaultRoomSettings(), "replace unreadable room settings");
    } catch (e) {
      this.log.warn({ roomId, err: describe(e) }, "could not write the default room settings back; will retry on the next change");
    }
  }

  async isProactive(roomId: string): Promise<boolean> {
    const value = await this.retry("read the proactive index", roomId, () => this.index.get(roomId));
    return value !== undefined;
  }

  /** Opts the room in (keeping the first opt-in time) or out. */
  async setProactive(roomId: string, on: boolean): Promise<void> {
    await this.locks.run(roomId, async () => {
      if (!on) {
        await this.retry("remove from the proactive index", roomId, () => this.index.delete(roomId));
        return;
      }
      if (await this.isProactive(roomId)) return;
      const at = this.now();
      await this.retry("add to the proactive index", roomId, () => this.index.set(roomId, at));
    });
  }

  /** Every opted-in room, from the index namespace only. */
  async proactiveRooms(): Promise<string[]> {
    return this.retry("list the proactive index", undefined, async () => {
      const iterate = this.index.iterator;
      if (!iterate) throw new Error("this store cannot list a namespace, which the proactive index needs");
      const rooms: string[] = [];
      let unreadable = 0;
      for await (const [key, value] of iterate(undefined)) {
        if (typeof key !== "string") continue;
        if (indexValueSchema.safeParse(value).success) rooms.push(key);
        else unreadable += 1;
      }
      // An unreadable timestamp still means the room was opted in: keep it, but say so.
      if (unreadable > 0) this.log.warn({ count: unreadable }, "proactive index entries with an unreadable timestamp");
      return rooms.sort();
    });
  }

  /**
   * Room upgrade: the replacement room takes over the old room's settings and opt-in, never overwriting settings
   * the replacement already has (they stay, and the old room keeps its own). Write order: the new room first,
   * then the old room is cleared, so a crash in between leaves both (retrying converges), never neither.
   */
  async moveRoom(oldRoomId: string, newRoomId: string): Promise<void> {
    if (oldRoomId === newRoomId) return;
    const [first, second] = oldRoomId < newRoomId ? [oldRoomId, newRoomId] : [newRoomId, oldRoomId];
    await this.locks.run(first, () => this.locks.run(second, async () => {
      const raw = await this.retry("read room settings", oldRoomId, () => this.settings.get(oldRoomId));
      const parsed = raw === undefined ? undefined : roomSettingsSchema.safeParse(raw);
      const existing = await this.retry("read room settings", newRoomId, () => this.settings.get(newRoomId));
      const moved = parsed?.success === true && existing === undefined;
      if (moved) await this.save(newRoomId, parsed.data);
      const optedIn = await this.moveOptIn(oldRoomId, newRoomId);
      if (moved || raw === undefined) {
        this.forget(oldRoomId);
        if (raw !== undefined) await this.retry("delete room settings", oldRoomId, () => this.settings.delete(oldRoomId));
      }
      if (existing !== undefined) this.log.info({ oldRoomId, newRoomId }, "the upgraded room has settings of its own; they were kept");
      this.log.info({ oldRoomId, newRoomId, proactive: optedIn }, "room settings moved to the upgraded room");
    }));
  }

  /** Room upgrade, the opt-in only (of this store's index: another agent's, whose settings the room shares). */
  async moveProactive(oldRoomId: string, newRoomId: string): Promise<void> {
    if (oldRoomId === newRoomId) return;
    const [first, second] = oldRoomId < newRoomId ? [oldRoomId, newRoomId] : [newRoomId, oldRoomId];
    await this.locks.run(first, () => this.locks.run(second, () => this.moveOptIn(oldRoomId, newRoomId)));
  }

  /** Under both rooms' locks: the new room opted in (keeping the first time) before the old one leaves the index. */
  private async moveOptIn(oldRoomId: string, newRoomId: string): Promise<boolean> {
    const optedIn = await this.retry("read the proactive index", oldRoomId, () => this.index.get(oldRoomId));
    if (optedIn === undefined) return false;
    if (!(await this.isProactive(newRoomId))) {
      const at = indexValueSchema.safeParse(optedIn).success ? optedIn : this.now();
      await this.retry("add to the proactive index", newRoomId, () => this.index.set(newRoomId, at));
    }
    await this.retry("remove from the proactive index", oldRoomId, () => this.index.delete(oldRoomId));
    return true;
  }

  /** The bot was kicked or banned: the room leaves the opt-in index (its settings stay, for a rejoin). */
  async forgetProactive(roomId: string): Promise<void> {
    await this.setProactive(roomId, false);
  }

  /** Writes a room's settings; the cache holds them once the store has them (and forgets the room if it failed). */
  private async save(roomId: string, next: RoomSettings, what = "save room settings"): Promise<void> {
    this.forget(roomId);
    try {
      await this.retry(what, roomId, () => this.settings.set(roomId, next));
    } catch (e) {
      this.forget(roomId);
      throw e;
    }
    this.cache.remember(roomId, next);
  }

  /** Drops a room's cached settings; a read already under way will not cache what it read. */
  private forget(roomId: string): void {
    this.cache.forget(roomId);
  }

  private async retry<T>(what: string, roomId: string | undefined, op: () => Promise<T>): Promise<T> {
    let lastError: unknown;
    for (let attempt = 0; attempt <= this.retries; attempt += 1) {
      try {
        return await op();
      } catch (e) {
        lastError = e;
        if (attempt < this.retries) {
          this.log.debug({ roomId, attempt: attempt + 1, err: describe(e) }, `could not ${what}; retrying`);
          await delay(this.retryDelayMs * 2 ** attempt);
        }
      }
    }
    this.log.warn({ roomId, attempts: this.retries + 1, err: describe(lastError) }, `could not ${what}: store unavailable`);
    throw new SettingsUnavailableError(`could not ${what} after ${this.retries + 1} attempts: ${describe(lastError)}`,
      { cause: lastError });
  }
}

function dropUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function delay(ms: number): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
