// Why the bot is in each room: joined for its own sake ("direct": an invite, a room it created, an upgrade) or
// only because followed spaces list it. A room joined only through spaces is left when the last of them
// drops it; a direct room never is. Read-modify-write per room, one at a time (this process is the only writer).
import type Keyv from "keyv";
import type { Logger } from "pino";
import { parseStored, roomOriginSchema, type RoomOrigin } from "./records";
import { KeyedLock } from "../../util/keyed-lock";

export class RoomOrigins {
  private readonly locks = new KeyedLock();

  constructor(private readonly store: Keyv<unknown>, private readonly log: Logger) {}

  async get(roomId: string): Promise<RoomOrigin | undefined> {
    const { value, malformed } = parseStored(roomOriginSchema, await this.store.get(roomId));
    if (malformed) this.log.warn({ roomId }, "stored room origin is unreadable; treated as joined directly");
    return malformed ? { direct: true, spaces: [] } : value;
  }

  /** The bot joined (or created) the room for its own sake. */
  markDirect(roomId: string): Promise<void> {
    return this.locks.run(roomId, async () => {
      const current = await this.get(roomId);
      if (current?.direct) return;
      await this.store.set(roomId, { direct: true, spaces: current?.spaces ?? [] });
    });
  }

  /** The bot is in the room because `spaceId` lists it (keeps `direct` as it was). */
  addSpace(roomId: string, spaceId: string): Promise<void> {
    return this.locks.run(roomId, async () => {
      const current = await this.get(roomId);
      if (current?.spaces.includes(spaceId)) return;
      await this.store.set(roomId, { direct: current?.direct ?? false, spaces: [...(current?.spaces ?? []), spaceId] });
    });
  }

  /** `spaceId` no longer lists the room. "leave" when nothing else keeps the bot there. */
  removeSpace(roomId: string, spaceId: string): Promise<"leave" | "keep" | "unknown"> {
    return this.locks.run(roomId, async () => {
      const current = await this.get(roomId);
      if (!current) return "unknown";
      const spaces = current.spaces.filter((s) => s !== spaceId);
      if (!current.direct && spaces.length === 0) return "leave";
      if (spaces.length !== current.spaces.length) await this.store.set(roomId, { direct: current.direct, spaces });
      return "keep";
    });
  }

  /** The bot left the room (or was removed): nothing keeps it there any more. */
  forget(roomId: string): Promise<void> {
    return this.locks.run(roomId, async () => {
      await this.store.delete(roomId);
    });
  }
}
