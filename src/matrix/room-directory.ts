// What the bot knows about each room: joined members and their display names, whether it is a DM, whether it
// is encrypted, its creators and type. Fed by every state/timeline event; fetched on demand when unknown.
import type { Logger } from "pino";
import type { RoomEvent } from "./events";
import { enc, type MatrixHttp } from "./http";

interface RoomInfo {
  members: Map<string, string | undefined>; // joined user id → display name
  membersLoaded: boolean;
  direct: boolean;
  encrypted: boolean;
  type?: string;
  creators: string[];
  roomVersion?: string;
}

export class RoomDirectory {
  private readonly rooms = new Map<string, RoomInfo>();

  constructor(private readonly http: MatrixHttp, private readonly userId: string, private readonly log: Logger) {}

  private info(roomId: string): RoomInfo {
    let info = this.rooms.get(roomId);
    if (!info) {
      info = { members: new Map(), membersLoaded: false, direct: false, encrypted: false, creators: [] };
      this.rooms.set(roomId, info);
    }
    return info;
  }

  observe(event: RoomEvent): void {
    if (event.state_key === undefined) return;
    const info = this.info(event.room_id);
    switch (event.type) {
      case "m.room.member": {
        const membership = event.content["membership"];
        const name = typeof event.content["displayname"] === "string" ? event.content["displayname"] : undefined;
        if (membership === "join") info.members.set(event.state_key, name);
        else info.members.delete(event.state_key);
        if (event.state_key === this.userId && event.content["is_direct"] === true) info.direct = true;
        break;
      }
      case "m.room.encryption":
        info.encrypted = true;
        break;
      case "m.room.create": {
        const extra = event.content["additional_creators"];
        info.creators = [event.sender, ...(Array.isArray(extra) ? extra.filter((c): c is string => typeof c === "string") : [])];
        info.type = typeof event.content["type"] === "string" ? event.content["type"] : undefined;
        info.roomVersion = typeof event.content["room_version"] === "string" ? event.content["room_version"] : "1";
        break;
      }
    }
  }

  markDirect(roomId: string): void {
    this.info(roomId).direct = true;
  }

  forget(roomId: string): void {
    this.rooms.delete(roomId);
  }

  isEncrypted(roomId: string): boolean {
    return this.rooms.get(roomId)?.encrypted ?? false;
  }

  /** A DM: invited as direct, or exactly two joined members (the bot and one person). */
  async isDirect(roomId: string): Promise<boolean> {
    const info = this.info(roomId);
    if (info.direct) return true;
    await this.loadMembers(info, roomId);
    return info.members.size === 2 && info.members.has(this.userId);
  }

  async displayName(roomId: string, userId: string): Promise<string | undefined> {
    const info = this.info(roomId);
    if (!info.members.has(userId)) await this.loadMembers(info, roomId);
    return info.members.get(userId);
  }

  private async loadMembers(info: RoomInfo, roomId: string): Promise<void> {
    if (info.membersLoaded) return;
    try {
      const res = await this.http.request<{ joined?: Record<string, { display_name?: string }> }>("GET",
        `/_matrix/client/v3/rooms/${enc(roomId)}/joined_members`);
      for (const [userId, profile] of Object.entries(res.joined ?? {})) {
        info.members.set(userId, typeof profile?.display_name === "string" ? profile.display_name : undefined);
      }
      info.membersLoaded = true;
    } catch (e) {
      this.log.warn({ roomId, err: String(e) }, "could not load room members");
    }
  }
}
