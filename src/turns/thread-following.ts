// In a group room, a Matrix thread the bot was asked in (or one started from the bot's own message) counts as
// addressing it for the thread's later messages, while the room's /threads setting is "follow" (the default). The
// threads are remembered durably and bounded (RoomMemory), so a restart keeps following them.
import type { Logger } from "pino";
import type { RoomEvent } from "../matrix/events";
import type { RoomMemory } from "../rooms/room-memory";

export interface ThreadFollowingDeps {
  botUserId: string;
  memory: Pick<RoomMemory, "isFollowed" | "follow">;
  /** The room's /threads setting. */
  mode(roomId: string): Promise<"follow" | "mention">;
  /** A thread's root event (undefined when it cannot be read). */
  fetchEvent(roomId: string, eventId: string): Promise<RoomEvent | undefined>;
  log: Logger;
  /** Thread roots whose sender is kept in memory. Default 2,000. */
  cacheSize?: number;
}

export class ThreadFollowing {
  /** `room\nroot` → whether the bot sent the root. */
  private readonly rootByBot = new Map<string, boolean>();

  constructor(private readonly deps: ThreadFollowingDeps) {}

  /** Whether an unaddressed message in thread `root` of a group room is for the bot all the same. */
  async addresses(roomId: string, root: string): Promise<boolean> {
    if ((await this.deps.mode(roomId)) !== "follow") return false;
    if (await this.deps.memory.isFollowed(roomId, root)) return true;
    return this.startedByBot(roomId, root);
  }

  /** The bot was asked in this thread (it answers there): its later messages address it. */
  async asked(roomId: string, root: string): Promise<void> {
    await this.deps.memory.follow(roomId, root);
  }

  private async startedByBot(roomId: string, root: string): Promise<boolean> {
    const key = `${roomId}\n${root}`;
    const known = this.rootByBot.get(key);
    if (known !== undefined) return known;
    const event = await this.deps.fetchEvent(roomId, root);
    if (event === undefined) {
      this.deps.log.debug({ roomId, root }, "thread root not readable; the thread is not followed for now");
      return false; // not remembered: it may be readable next time
    }
    const byBot = event.sender === this.deps.botUserId;
    this.rootByBot.set(key, byBot);
    if (this.rootByBot.size > (this.deps.cacheSize ?? 2_000)) this.rootByBot.delete(this.rootByBot.keys().next().value ?? "");
    return byBot;
  }
}
