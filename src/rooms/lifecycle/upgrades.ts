// Room upgrades: an `m.room.tombstone` with `replacement_room` makes the bot join the replacement, carry the room's
// settings and proactive opt-in over, and key the replacement's agent thread on the same room id as before
// (namespace "room-successors": new room → the first room of the upgrade chain), so the agent sees one conversation.
// Only a real upgrade is followed (issue 14):
//   - the tombstone's sender is an allowed user with the settings permission in the old room;
//   - the replacement is not a conversation of its own (a message there reached the bot, it continues another
//     room, or it is a DM the bot is in): two conversations never merge;
//   - once joined, the replacement's m.room.create must name the old room as `predecessor`; if not, nothing moves
//     and the bot leaves it again (unless it was there before the tombstone).
// Write order: the pending upgrade (namespace "room-upgrades-pending": replacement → old room) before the join, so a
// replacement that needs an invite is completed when the bot is invited, and a crash anywhere converges when the
// tombstone is seen again; then the join, the check, the successor record, the settings move, and the pending record
// dropped last. Until the check has decided, the replacement's messages wait for it (RoomChecks).
import type Keyv from "keyv";
import type { Logger } from "pino";
import { MatrixRequestError } from "../../matrix/errors";
import { serverOf, type RoomEvent } from "../../matrix/events";
import { KeyedLock } from "../../util/keyed-lock";
import type { MatrixRooms } from "./matrix-rooms";
import type { RoomOrigins } from "./origins";
import { parseStored, pendingUpgradeSchema, type PendingUpgrade } from "./records";
import type { RoomChecks } from "./room-checks";
import { isRoomId } from "./space-children";
import type { SpaceFollower } from "./space-follower";
import { describe } from "./tasks";
import { LruMap } from "../../util/lru";

/** Maps a room to the room id its agent thread is keyed on (itself unless it replaced an upgraded room). */
export class RoomSuccessors {
  private readonly cache: LruMap<string, string>;

  /** `cacheSize`: rooms kept in memory (the others are read from the store again). */
  constructor(private readonly store: Keyv<string>, cacheSize = 10_000) {
    this.cache = new LruMap(cacheSize);
  }

  /** The thread room when it is in memory (threadRoomFor without a read), else undefined. */
  cachedThreadRoom(roomId: string): string | undefined {
    return this.cache.get(roomId);
  }

  async threadRoomFor(roomId: string): Promise<string> {
    const cached = this.cache.get(roomId);
    if (cached !== undefined) return cached;
    const stored = await this.store.get(roomId);
    const threadRoom = typeof stored === "string" && stored !== "" ? stored : roomId;
    this.cache.set(roomId, threadRoom);
    return threadRoom;
  }

  /** Whether the room is a recorded replacement of a room the bot was in. */
  async isSuccessor(roomId: string): Promise<boolean> {
    return (await this.threadRoomFor(roomId)) !== roomId;
  }

  /** Records `newRoomId` as the continuation of `oldRoomId`; returns the thread room both now share. */
  async record(oldRoomId: string, newRoomId: string): Promise<string> {
    const threadRoom = await this.threadRoomFor(oldRoomId);
    if (threadRoom === newRoomId) return threadRoom; // an upgrade back to the first room: nothing to alias
    await this.store.set(newRoomId, threadRoom);
    this.cache.set(newRoomId, threadRoom);
    return threadRoom;
  }
}

/**
 * Rooms with a conversation of their own: a message there reached the bot (routing asks for its thread room).
 * Namespace "room-conversations": room id → when it was first seen; written once per room.
 */
export class RoomConversations {
  private readonly known: LruMap<string, true>;

  /** `cacheSize`: rooms remembered as known (the others are read from the store again). */
  constructor(private readonly store: Keyv<unknown>, cacheSize = 10_000) {
    this.known = new LruMap(cacheSize);
  }

  /** Whether note() has nothing to do: the room is known to have its record. */
  isNoted(roomId: string): boolean {
    return this.known.has(roomId);
  }

  async note(roomId: string): Promise<void> {
    if (this.known.has(roomId)) return;
    if ((await this.store.get(roomId)) === undefined) await this.store.set(roomId, Date.now());
    this.known.set(roomId, true);
  }

  async has(roomId: string): Promise<boolean> {
    return this.known.has(roomId) || (await this.store.get(roomId)) !== undefined;
  }
}

/**
 * The room a message's thread is keyed on: waits for a check of the room under way (a replacement room: its messages
 * wait for the verdict), notes the conversation, then maps it to the first room of its upgrade chain. Asked for every
 * message: a room with no check under way, already noted, whose thread room is in memory answers without those three
 * waits (each an async call: ~400 bytes of garbage and a few microtasks).
 */
export function threadRoomOf(roomId: string, checks: RoomChecks, conversations: RoomConversations, successors: RoomSuccessors): Promise<string> {
  const known = checks.underWay(roomId) || !conversations.isNoted(roomId) ? undefined : successors.cachedThreadRoom(roomId);
  if (known !== undefined) return Promise.resolve(known);
  return (async () => {
    await checks.stays(roomId);
    await conversations.note(roomId);
    return successors.threadRoomFor(roomId);
  })();
}

export interface UpgradeDeps {
  successors: RoomSuccessors;
  /** replacement room id → the pending upgrade (written before the join, dropped once complete). */
  pending: Keyv<unknown>;
  checks: RoomChecks;
  rooms: MatrixRooms;
  origins: RoomOrigins;
  spaces: SpaceFollower;
  settings: { moveRoom(oldRoomId: string, newRoomId: string): Promise<void> };
  joined: { add(roomId: string): void };
  isAllowedUser: (userId: string) => boolean;
  /** Whether the user has the settings permission in the room (commands/permissions.ts). */
  maySetSettings: (roomId: string, userId: string) => Promise<boolean>;
  conversations: RoomConversations;
  /** Whether the bot is joined to the room now. */
  isJoined: (roomId: string) => Promise<boolean>;
  /** Whether the room is a DM (DESIGN.md: one allowed person besides the bot's own users). */
  isDirect: (roomId: string) => Promise<boolean>;
  leaveRoom: (roomId: string, reason: string) => Promise<void>;
  log: Logger;
}

export class RoomUpgrades {
  private readonly locks = new KeyedLock();

  constructor(private readonly deps: UpgradeDeps) {}

  async onTombstone(event: RoomEvent): Promise<void> {
    if (event.type !== "m.room.tombstone" || event.state_key !== "") return;
    const { log } = this.deps;
    const oldRoomId = event.room_id;
    const replacement = event.content["replacement_room"];
    if (!isRoomId(replacement) || replacement === oldRoomId) {
      log.info({ roomId: oldRoomId }, "tombstone without a usable replacement_room; nothing to follow");
      return;
    }
    const fields = { roomId: oldRoomId, newRoomId: replacement, sender: event.sender };
    if (!(await this.isPending(replacement, oldRoomId))) {
      if (await this.alreadyFollowed(oldRoomId, replacement)) return; // a replay of a finished upgrade
      if (!this.deps.isAllowedUser(event.sender)) {
        log.warn(fields, "room upgrade ignored: the tombstone's sender is not an allowed user");
        return;
      }
      if (!(await this.deps.maySetSettings(oldRoomId, event.sender))) {
        log.warn(fields, "room upgrade ignored: the tombstone's sender may not change this room's settings");
        return;
      }
      const joinedBefore = await this.deps.isJoined(replacement);
      if ((await this.deps.successors.isSuccessor(replacement)) || (await this.deps.conversations.has(replacement)) ||
        (joinedBefore && (await this.deps.isDirect(replacement)))) {
        log.warn(fields, "room upgrade not followed: the replacement room is a conversation of its own; the two are not merged");
        return;
      }
      await this.deps.pending.set(replacement, { oldRoomId, at: Date.now(), joinedBefore });
    }
    const via = [...new Set([serverOf(event.sender), serverOf(replacement), serverOf(oldRoomId)])]
      .filter((s): s is string => s !== undefined && s !== "");
    await this.deps.checks.run(replacement, async () => {
      try {
        await this.deps.rooms.join(replacement, via);
      } catch (e) {
        if (!(e instanceof MatrixRequestError)) throw e;
        log.warn({ oldRoomId, newRoomId: replacement, error: describe(e) },
          "could not join the replacement room (it may need an invite); the upgrade is completed once the bot is in");
        return true;
      }
      return this.complete(replacement);
    });
  }

  /** The bot joined a room: if it is the replacement of a pending upgrade, check and complete it now. */
  async onOwnJoin(roomId: string): Promise<void> {
    if ((await this.pendingFor(roomId)) === undefined) return;
    await this.deps.checks.run(roomId, () => this.complete(roomId));
  }

  /**
   * Checks that the replacement names the old room as its predecessor, then moves the conversation and settings.
   * Idempotent. Resolves to whether the bot stays in the room.
   */
  private complete(replacement: string): Promise<boolean> {
    return this.locks.run(replacement, async () => {
      const pending = await this.pendingFor(replacement);
      if (pending === undefined) return true; // completed meanwhile
      const { oldRoomId } = pending;
      const { log } = this.deps;
      const predecessor = (await this.deps.rooms.createInfo(replacement))?.predecessor;
      if (predecessor !== oldRoomId) {
        log.warn({ oldRoomId, newRoomId: replacement, predecessor: predecessor ?? null },
          "room upgrade not followed: the replacement room does not name this room as its predecessor");
        if (pending.joinedBefore !== true) await this.deps.leaveRoom(replacement, "This room is not the upgrade of the room that named it.");
        await this.deps.pending.delete(replacement);
        return pending.joinedBefore === true;
      }
      const threadRoom = await this.deps.successors.record(oldRoomId, replacement);
      this.deps.joined.add(replacement);
      await this.deps.origins.markDirect(replacement);
      await this.deps.settings.moveRoom(oldRoomId, replacement);
      if (this.deps.spaces.isFollowed(oldRoomId)) await this.deps.spaces.transfer(oldRoomId, replacement);
      await this.deps.pending.delete(replacement);
      log.info({ oldRoomId, newRoomId: replacement, threadRoom }, "joined the replacement of an upgraded room");
      return true;
    });
  }

  private async alreadyFollowed(oldRoomId: string, replacement: string): Promise<boolean> {
    const [oldThread, newThread] = await Promise.all([this.deps.successors.threadRoomFor(oldRoomId), this.deps.successors.threadRoomFor(replacement)]);
    return newThread !== replacement && newThread === oldThread;
  }

  private async isPending(replacement: string, oldRoomId: string): Promise<boolean> {
    return (await this.pendingFor(replacement))?.oldRoomId === oldRoomId;
  }

  private async pendingFor(replacement: string): Promise<PendingUpgrade | undefined> {
    const { value, malformed } = parseStored(pendingUpgradeSchema, await this.deps.pending.get(replacement));
    if (malformed) this.deps.log.warn({ roomId: replacement }, "stored pending room upgrade is unreadable; ignored");
    return value;
  }
}
