// Parsed room settings kept in memory, one cache per settings namespace (keyed by its Keyv), so that every
// RoomSettingsStore of the process over the same store sees the same values: this process is the only writer.
//
// A read that started before a write of the same room must not cache what it read (the value is stale by then).
// Reads in flight are counted per room and marked when a write comes: what is tracked is bounded by the reads
// under way, not by every room ever written (a counter per room written would grow with the rooms).
import { LruMap } from "../util/lru";
import type { RoomSettings } from "./settings";

/** A read under way: `since` is the write generation it started at. */
export interface SettingsRead {
  readonly roomId: string;
  readonly since: number;
}

export class SettingsCache {
  private readonly values: LruMap<string, RoomSettings> | undefined;
  /** Per room: reads in flight and the room's write generation (bumped by every write while one is). */
  private readonly inFlight = new Map<string, { reads: number; generation: number }>();

  constructor(size: number) {
    this.values = size > 0 ? new LruMap(size) : undefined;
  }

  get(roomId: string): RoomSettings | undefined {
    return this.values?.get(roomId);
  }

  /** A read from the store begins; pass the result to `endRead`, whatever happens. */
  beginRead(roomId: string): SettingsRead {
    const entry = this.inFlight.get(roomId) ?? { reads: 0, generation: 0 };
    entry.reads += 1;
    this.inFlight.set(roomId, entry);
    return { roomId, since: entry.generation };
  }

  /** The read ended (value or error): true when no write of the room came meanwhile, so its value may be cached. */
  endRead(read: SettingsRead): boolean {
    const entry = this.inFlight.get(read.roomId);
    if (entry === undefined) return false;
    const unchanged = entry.generation === read.since;
    entry.reads -= 1;
    if (entry.reads === 0) this.inFlight.delete(read.roomId);
    return unchanged;
  }

  /** Drops a room's value; a read already under way will not cache what it read. */
  forget(roomId: string): void {
    this.values?.delete(roomId);
    const entry = this.inFlight.get(roomId);
    if (entry !== undefined) entry.generation += 1;
  }

  remember(roomId: string, settings: RoomSettings): RoomSettings {
    const frozen = Object.freeze({ ...settings });
    this.values?.set(roomId, frozen);
    return frozen;
  }

  /** Rooms with a read under way (figures and tests: nothing is kept per room once its reads are done). */
  get readsInFlight(): number {
    return this.inFlight.size;
  }

  get size(): number {
    return this.values?.size ?? 0;
  }
}

const caches = new WeakMap<object, SettingsCache>();

/** The one cache of a settings namespace (its Keyv), created with `size` entries at most the first time. */
export function settingsCacheFor(namespace: object, size: number): SettingsCache {
  let cache = caches.get(namespace);
  if (!cache) {
    cache = new SettingsCache(size);
    caches.set(namespace, cache);
  }
  return cache;
}
