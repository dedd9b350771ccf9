// The bot introduces itself once per room, the first time it joins: its name, how to talk to it in a DM and
// in a group room, and /help. Not in spaces (nobody chats there), not in an upgraded room it was already in
// (the conversation continues), not where no allowed user is a member (nobody there may talk to it, e.g. the
// rooms of a hostile space), not in a room it is about to leave again (RoomChecks), and rooms the bot creates
// itself get their own words from provisioning.
// Durable and once: the message is recorded in the outbox (deterministic txnId) before the flag is written,
// so a crash in between re-enqueues the same txnId, which the outbox and the homeserver deduplicate.
import type Keyv from "keyv";
import type { Logger } from "pino";
import type { OutboxEntryInput } from "../../outbox";
import type { MatrixRooms } from "./matrix-rooms";
import { INTRO_MARKER, lifecycleTxnId } from "./records";
import type { RoomChecks } from "./room-checks";
import { LruMap } from "../../util/lru";

export interface IntroductionsDeps {
  store: Keyv<number>;
  outbox: { enqueue(entries: OutboxEntryInput[]): Promise<void> };
  rooms: MatrixRooms;
  botUserId: string;
  botName: string;
  /** Whether the room replaced one the bot was in (its conversation continues there). */
  isUpgradeOfKnownRoom: (roomId: string, predecessor: string | undefined) => Promise<boolean>;
  isAllowedUser: (userId: string) => boolean;
  checks: RoomChecks;
  log: Logger;
}

export function introductionText(botName: string): string {
  return [
    `👋 Hi, I'm ${botName}, an AI assistant.`,
    "• In a direct chat, just write to me.",
    `• In a group room, mention me (${botName}) or reply to one of my messages.`,
    "• Send /help (or !help) to see what I can do.",
  ].join("\n");
}

export function provisionedRoomText(botName: string): string {
  return [
    `👋 Welcome to your private space with ${botName}.`,
    "Just write to me in this room. Each room in the space is a separate conversation with its own memory:",
    "send /new [title] (or !new) to start another one, /help (or !help) to see what else I can do.",
  ].join("\n");
}

export function chatRoomText(botName: string, title: string): string {
  return `👋 A new conversation with ${botName}: “${title}”. Just write to me here; this room has its own memory. /help (or !help) for more.`;
}

export class Introductions {
  /** Rooms known to be introduced, lately seen (the others are read from the store again). */
  private readonly done = new LruMap<string, true>(10_000);

  constructor(private readonly deps: IntroductionsDeps) {}

  /** The bot's own first join of a room was observed. */
  async onOwnJoin(roomId: string): Promise<void> {
    if (!(await this.deps.checks.stays(roomId))) return;
    if (await this.alreadyIntroduced(roomId)) return;
    const info = await this.deps.rooms.createInfo(roomId);
    if (info?.creator === this.deps.botUserId) return; // created by the bot: provisioning posts its own introduction
    if (info?.type === "m.space") return this.markDone(roomId);
    if (await this.deps.isUpgradeOfKnownRoom(roomId, info?.predecessor)) {
      this.deps.log.info({ roomId }, "no introduction in an upgraded room: the conversation continues");
      return this.markDone(roomId);
    }
    const members = await this.deps.rooms.joinedMembers(roomId).catch(() => undefined);
    if (members === undefined) return; // unreadable: the bot is no longer there
    if (!members.some((userId) => userId !== this.deps.botUserId && this.deps.isAllowedUser(userId))) {
      this.deps.log.info({ roomId }, "no introduction: no allowed user is a member of the room");
      return this.markDone(roomId);
    }
    await this.post(roomId, introductionText(this.deps.botName));
  }

  /** Posts `text` as the room's introduction unless one was posted already. */
  async post(roomId: string, text: string): Promise<void> {
    if (await this.alreadyIntroduced(roomId)) return;
    const content = { msgtype: "m.notice", body: text, "m.mentions": {}, [INTRO_MARKER]: true };
    await this.deps.outbox.enqueue([{ roomId, type: "m.room.message", content, txnId: lifecycleTxnId("introduction", roomId), origin: { kind: "notice" } }]);
    await this.markDone(roomId);
    this.deps.log.info({ roomId }, "introduction posted");
  }

  async alreadyIntroduced(roomId: string): Promise<boolean> {
    if (this.done.has(roomId)) return true;
    const known = (await this.deps.store.get(roomId)) !== undefined;
    if (known) this.done.set(roomId, true);
    return known;
  }

  private async markDone(roomId: string): Promise<void> {
    await this.deps.store.set(roomId, Date.now());
    this.done.set(roomId, true);
  }
}
