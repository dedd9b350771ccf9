// `/new [title]`: one more chat room in the user's space (provisioning the space first when the user has none),
// the user invited, a short introduction. Each room is its own agent thread (thread keys are per room).
// Idempotent per request id (the command's event id): a command replayed after a crash finishes the same room
// instead of creating a second one (record "chat-rooms", `<user>|<request>`, plus the room's marker). At most
// maxPerUser rooms per user (NEW_ROOMS_MAX_PER_USER; count in "chat-room-counts", written after the request's record,
// so a crash in between errs on the user's side).
import { randomUUID } from "node:crypto";
import type Keyv from "keyv";
import type { Logger } from "pino";
import { MatrixRequestError } from "../../matrix/errors";
import { serverOf } from "../../matrix/events";
import { chatRoomText, type Introductions } from "./introductions";
import type { MatrixRooms } from "./matrix-rooms";
import { chatRoomBody, type Provisioner } from "./provisioning";
import { chatRoomRecordSchema, parseStored, type ChatRoomRecord } from "./records";
import type { RoomCreator } from "./room-creator";
import { KeyedLock } from "../../util/keyed-lock";

export const MAX_TITLE_LENGTH = 100;
export const DEFAULT_CHAT_TITLE = "New chat";

export interface ChatRoomResult {
  roomId: string;
  spaceId: string;
  title: string;
}

/** A failure /new can show: `userMessage` is safe for the room, `message` is for the log. */
export class ChatRoomError extends Error {
  override readonly name = "ChatRoomError";
  constructor(message: string, readonly userMessage: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface ChatRoomsDeps {
  rooms: MatrixRooms;
  creator: RoomCreator;
  provisioner: Provisioner;
  introductions: Introductions;
  records: Keyv<unknown>;
  /** user id → rooms created for them by /new. */
  counts: Keyv<number>;
  maxPerUser: number;
  botUserId: string;
  botName: string;
  log: Logger;
}

export class ChatRooms {
  private readonly locks = new KeyedLock();

  constructor(private readonly deps: ChatRoomsDeps) {}

  async create(userId: string, title?: string, opts: { requestId?: string } = {}): Promise<ChatRoomResult> {
    try {
      return await this.createNow(userId, cleanTitle(title), opts.requestId ?? randomUUID());
    } catch (e) {
      if (e instanceof ChatRoomError) throw e;
      const detail = e instanceof MatrixRequestError ? e.describe() : e instanceof Error ? e.message : String(e);
      this.deps.log.warn({ userId, err: detail }, "could not create a chat room for /new");
      throw new ChatRoomError(`could not create a chat room: ${detail}`,
        "I couldn't create the new room right now. Please try again in a minute.", { cause: e });
    }
  }

  private async createNow(userId: string, title: string, requestId: string): Promise<ChatRoomResult> {
    const spaceId = await this.usableSpace(userId);
    const key = `${userId}|${requestId}`;
    const { value } = parseStored(chatRoomRecordSchema, await this.deps.records.get(key));
    const record: ChatRoomRecord = value ?? { spaceId, title, room: {} };
    const save = (): Promise<void> => this.deps.records.set(key, record).then(() => undefined);
    if (value === undefined) await this.count(userId, save);
    const server = serverOf(this.deps.botUserId) ?? "";
    const roomId = await this.deps.creator.ensure(record.room, {
      marker: { user_id: userId, kind: "chat", request: requestId },
      body: chatRoomBody(record.title, record.spaceId, server),
    }, save);
    await this.deps.provisioner.shareRoom(record.spaceId, roomId, record.room, userId, save);
    if (!record.room.introPosted) {
      await this.deps.introductions.post(roomId, chatRoomText(this.deps.botName, record.title));
      record.room.introPosted = true;
      await save();
    }
    this.deps.log.info({ userId, roomId, spaceId: record.spaceId }, "chat room created for /new");
    return { roomId, spaceId: record.spaceId, title: record.title };
  }

  /** Counts a new request against the user's limit (refused beyond it), after saving its record. */
  private count(userId: string, save: () => Promise<void>): Promise<void> {
    return this.locks.run(userId, async () => {
      const created = (await this.deps.counts.get(userId)) ?? 0;
      const max = this.deps.maxPerUser;
      if (created >= max) {
        this.deps.log.info({ userId, limit: max }, "/new refused: the user has as many rooms as NEW_ROOMS_MAX_PER_USER allows");
        throw new ChatRoomError(`/new limit of ${max} reached`, newRoomsLimitText(max));
      }
      await save();
      await this.deps.counts.set(userId, created + 1);
    });
  }

  /** The user's space, provisioned now if they have none or the bot is no longer in it. */
  private async usableSpace(userId: string): Promise<string> {
    const known = await this.deps.provisioner.spaceOf(userId);
    if (known !== undefined && !(await this.botIsIn(known))) await this.deps.provisioner.forgetSpace(userId);
    return (await this.deps.provisioner.provision(userId)).spaceId;
  }

  private async botIsIn(roomId: string): Promise<boolean> {
    try {
      return (await this.deps.rooms.joinedMembers(roomId)).includes(this.deps.botUserId);
    } catch (e) {
      if (e instanceof MatrixRequestError && (e.kind === "forbidden" || e.kind === "not_found")) return false;
      throw e;
    }
  }
}

export function newRoomsLimitText(max: number): string {
  return `You already have ${max} ${max === 1 ? "room" : "rooms"} I created with /new, the most I make per person. ` +
    "Use one of them, or ask the operator to raise NEW_ROOMS_MAX_PER_USER.";
}

/** One line, trimmed, at most MAX_TITLE_LENGTH characters; the default when empty. */
export function cleanTitle(title: string | undefined): string {
  const line = (title ?? "").replace(/[\s\u0000-\u001f\u007f]+/g, " ").trim();
  if (line === "") return DEFAULT_CHAT_TITLE;
  const chars = [...line];
  return chars.length > MAX_TITLE_LENGTH ? `${chars.slice(0, MAX_TITLE_LENGTH - 1).join("")}…` : line;
}
