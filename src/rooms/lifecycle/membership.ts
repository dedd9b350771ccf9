// Membership changes that concern the bot. Kicked or banned (its own member event, leave/ban, sent by someone
// else): the room's waiting deliveries become permanent failures and its proactive opt-in is cleared. The bot
// left by itself: its waiting deliveries fail too. Either way its pending prompts are cancelled. Someone else left
// and the bot is the only joined member left: the bot leaves as well.
import type { Logger } from "pino";
import type { RoomEvent } from "../../matrix/events";
import type { MatrixRooms } from "./matrix-rooms";
import type { RoomOrigins } from "./origins";
import type { SpaceFollower } from "./space-follower";
import { describe } from "./tasks";

export interface MembershipDeps {
  botUserId: string;
  rooms: MatrixRooms;
  outbox: { failRoom(roomId: string, reason: string): Promise<number> };
  settings: { forgetProactive(roomId: string): Promise<void> };
  /** Pending prompts (src/interrupts/): those of a room the bot left are cancelled. */
  prompts?: { roomLeft(roomId: string): Promise<number> };
  origins: RoomOrigins;
  spaces: SpaceFollower;
  directory: { forget(roomId: string): void };
  joined: { delete(roomId: string): void };
  /** Leaves a room (used when the bot is the last member). */
  leaveRoom: (roomId: string, reason: string) => Promise<void>;
  log: Logger;
}

/** Whether a member event is the bot's own first join (not a profile change while joined). */
export function isOwnJoin(event: RoomEvent, botUserId: string): boolean {
  if (event.type !== "m.room.member" || event.state_key !== botUserId || event.content["membership"] !== "join") return false;
  const prev = event.unsigned?.["prev_content"];
  const prevMembership = typeof prev === "object" && prev !== null ? (prev as { membership?: unknown }).membership : undefined;
  return prevMembership !== "join";
}

export class MembershipWatcher {
  constructor(private readonly deps: MembershipDeps) {}

  async onMember(event: RoomEvent): Promise<void> {
    if (event.type !== "m.room.member" || event.state_key === undefined) return;
    const membership = event.content["membership"];
    if (membership !== "leave" && membership !== "ban") return;
    if (event.state_key === this.deps.botUserId) await this.botRemoved(event, membership);
    else await this.someoneLeft(event.room_id);
  }

  private async botRemoved(event: RoomEvent, membership: "leave" | "ban"): Promise<void> {
    const { log } = this.deps;
    const roomId = event.room_id;
    const byOther = event.sender !== this.deps.botUserId;
    const reason = membership === "ban" ? "banned" : byOther ? "kicked" : "left";
    this.deps.joined.delete(roomId);
    this.deps.directory.forget(roomId);
    const failed = await this.deps.outbox.failRoom(roomId, reason);
    await this.deps.prompts?.roomLeft(roomId);
    if (byOther || membership === "ban") {
      await this.deps.settings.forgetProactive(roomId);
      log.warn({ roomId, by: event.sender, reason, failedDeliveries: failed }, "the bot was removed from a room; its pending messages failed and its proactive opt-in was cleared");
    } else {
      log.info({ roomId, failedDeliveries: failed }, "the bot left a room");
    }
    await this.deps.origins.forget(roomId);
    if (this.deps.spaces.isFollowed(roomId)) await this.deps.spaces.forget(roomId);
  }

  private async someoneLeft(roomId: string): Promise<void> {
    let members: string[];
    try {
      members = await this.deps.rooms.joinedMembers(roomId);
    } catch (e) {
      this.deps.log.debug({ roomId, err: describe(e) }, "could not list members after a leave");
      return;
    }
    if (members.length !== 1 || members[0] !== this.deps.botUserId) return;
    this.deps.log.info({ roomId }, "everyone else left the room; the bot leaves too");
    await this.deps.leaveRoom(roomId, "Everyone else left this room.");
  }
}
