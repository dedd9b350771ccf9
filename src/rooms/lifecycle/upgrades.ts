// Room upgrades: an `m.room.tombstone` with `replacement_room` makes the bot join the replacement (through the
// tombstone sender's server), carry the room's settings and proactive opt-in over, and key the replacement's
// agent thread on the same room id as before (namespace "room-successors": new room → the first room of the
// upgrade chain), so the agent sees one conversation across the upgrade.
// Write order: the successor record first (before the join, so no message of the new room is ever keyed on
// it), then the join, then the settings move. Every step is idempotent: a tombstone replayed after a crash
// converges.
import type Keyv from "keyv";
import type { Logger } from "pino";
import { MatrixRequestError } from "../../matrix/errors";
import { serverOf, type RoomEvent } from "../../matrix/events";
import type { MatrixRooms } from "./matrix-rooms";
import type { RoomOrigins } from "./origins";
import { isRoomId } from "./space-children";
import type { SpaceFollower } from "./space-follower";
import { describe } from "./tasks";

/** Maps a room to the room id its agent thread is keyed on (itself unless it replaced an upgraded room). */
export class RoomSuccessors {
  private readonly cache = new Map<string, string>();

  constructor(private readonly store: Keyv<string>) {}

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

export interface UpgradeDeps {
  successors: RoomSuccessors;
  rooms: MatrixRooms;
  origins: RoomOrigins;
  spaces: SpaceFollower;
  settings: { moveRoom(oldRoomId: string, newRoomId: string): Promise<void> };
  joined: { add(roomId: string): void };
  botUserId: string;
  log: Logger;
}

export class RoomUpgrades {
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
    const threadRoom = await this.deps.successors.record(oldRoomId, replacement);
    const via = [...new Set([serverOf(event.sender), serverOf(replacement), serverOf(oldRoomId)])]
      .filter((s): s is string => s !== undefined && s !== "");
    try {
      await this.deps.rooms.join(replacement, via);
      this.deps.joined.add(replacement);
      await this.deps.origins.markDirect(replacement);
      log.info({ oldRoomId, newRoomId: replacement, threadRoom }, "joined the replacement of an upgraded room");
    } catch (e) {
      if (!(e instanceof MatrixRequestError)) throw e;
      // Settings still move: the conversation lives on there once someone invites the bot.
      log.warn({ oldRoomId, newRoomId: replacement, error: describe(e) },
        "could not join the replacement room (it may need an invite); its thread continues once the bot is in");
    }
    await this.deps.settings.moveRoom(oldRoomId, replacement);
    if (this.deps.spaces.isFollowed(oldRoomId)) await this.deps.spaces.transfer(oldRoomId, replacement);
  }
}
