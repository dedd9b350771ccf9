// Per-user provisioning (PROVISION_SPACE=true): an allowed user's first invite gets them a private space with
// one chat room in it (m.space.child with via in the space, m.space.parent in the room), both shared with the
// user by invite, and an introduction in the chat room. Every step is recorded (namespace "provisioning",
// key = user id) right after it succeeded, so a process killed between steps resumes at the next start
// (namespace "provisioning-pending" lists the unfinished users) without a second space or room: rooms are
// created through RoomCreator (intent + marker search). Later invites from a provisioned user only join.
import type Keyv from "keyv";
import type { Logger } from "pino";
import { MatrixRequestError } from "../../matrix/errors";
import { serverOf } from "../../matrix/events";
import { provisionedRoomText, type Introductions } from "./introductions";
import type { MatrixRooms } from "./matrix-rooms";
import { parseStored, provisionRecordSchema, type CreatedRoomSteps, type ProvisionRecord } from "./records";
import type { RoomCreator } from "./room-creator";
import type { BackgroundTasks } from "./tasks";
import { KeyedLock } from "../../util/keyed-lock";

export interface ProvisionerDeps {
  rooms: MatrixRooms;
  creator: RoomCreator;
  introductions: Introductions;
  records: Keyv<unknown>;
  pending: Keyv<number>;
  tasks: BackgroundTasks;
  botUserId: string;
  botName: string;
  log: Logger;
}

export interface ProvisionedSpace {
  spaceId: string;
  roomId: string;
}

export class Provisioner {
  private readonly locks = new KeyedLock();

  constructor(private readonly deps: ProvisionerDeps) {}

  /** An allowed user invited the bot: provision them in the background unless done already. */
  onInvitedBy(userId: string): void {
    this.deps.tasks.run("provisioning", { userId }, async () => void (await this.provision(userId)));
  }

  /** Resumes every provisioning a stop or crash cut short. */
  async start(): Promise<void> {
    const iterate = this.deps.pending.iterator;
    if (!iterate) throw new Error("this store cannot list a namespace, which resuming provisioning needs");
    const users: string[] = [];
    for await (const [key] of iterate(undefined)) if (typeof key === "string") users.push(key);
    if (users.length > 0) this.deps.log.info({ count: users.length }, "resuming unfinished space provisioning");
    for (const userId of users) this.onInvitedBy(userId);
  }

  /** The user's space and first chat room, creating whatever is missing. Serialized per user. */
  provision(userId: string): Promise<ProvisionedSpace> {
    return this.locks.run(userId, () => this.provisionNow(userId));
  }

  /** Forgets a provisioned space the bot is no longer in, so the next provisioning starts afresh. */
  async forgetSpace(userId: string): Promise<void> {
    await this.locks.run(userId, async () => {
      await this.deps.records.delete(userId);
      this.deps.log.info({ userId }, "the user's provisioned space is gone; a new one is made when needed");
    });
  }

  /** The recorded space of a user (provisioned or in progress), without creating anything. */
  async spaceOf(userId: string): Promise<string | undefined> {
    return (await this.load(userId)).space.roomId;
  }

  private async provisionNow(userId: string): Promise<ProvisionedSpace> {
    const { creator, log } = this.deps;
    const record = await this.load(userId);
    if (record.done && record.space.roomId && record.room.roomId) return { spaceId: record.space.roomId, roomId: record.room.roomId };
    await this.deps.pending.set(userId, Date.now());
    const save = (): Promise<void> => this.deps.records.set(userId, record).then(() => undefined);
    log.info({ userId }, "provisioning a private space for the user");
    const server = serverOf(this.deps.botUserId) ?? "";
    const spaceId = await creator.ensure(record.space, {
      marker: { user_id: userId, kind: "space", request: "space" }, checkpoint: "provision-space-created",
      body: { name: `${this.deps.botName}`, topic: `Conversations with ${this.deps.botName}`, preset: "private_chat",
        creation_content: { type: "m.space" } },
    }, save);
    const roomId = await creator.ensure(record.room, {
      marker: { user_id: userId, kind: "chat", request: "first" }, checkpoint: "provision-room-created",
      body: chatRoomBody("Chat", spaceId, server),
    }, save);
    await this.shareRoom(spaceId, roomId, record.room, userId, save);
    if (!record.space.invited) {
      await inviteOnce(this.deps.rooms, spaceId, userId);
      record.space.invited = true;
      await save();
    }
    if (!record.room.introPosted) {
      await this.deps.introductions.post(roomId, provisionedRoomText(this.deps.botName));
      record.room.introPosted = true;
      await save();
    }
    record.done = true;
    await save();
    await this.deps.pending.delete(userId);
    log.info({ userId, spaceId, roomId }, "space provisioned for the user");
    return { spaceId, roomId };
  }

  /** Links a chat room into the space (m.space.child with via) and invites the user to it. */
  async shareRoom(spaceId: string, roomId: string, steps: CreatedRoomSteps, userId: string, save: () => Promise<void>): Promise<void> {
    if (!steps.linked) {
      const server = serverOf(this.deps.botUserId) ?? "";
      await this.deps.rooms.putState(spaceId, "m.space.child", roomId, { via: [server], suggested: true });
      steps.linked = true;
      await save();
    }
    if (!steps.invited) {
      await inviteOnce(this.deps.rooms, roomId, userId);
      steps.invited = true;
      await save();
    }
  }

  private async load(userId: string): Promise<ProvisionRecord> {
    const { value, malformed } = parseStored(provisionRecordSchema, await this.deps.records.get(userId));
    if (!malformed) return value ?? { space: {}, room: {} };
    // Unreadable: start again, but look for marked rooms before creating any (no duplicates).
    this.deps.log.warn({ userId }, "stored provisioning record is unreadable; resuming from the rooms' markers");
    return { space: { createIntent: Date.now() }, room: { createIntent: Date.now() } };
  }
}

/** A private chat room inside a space: the space is its canonical parent. */
export function chatRoomBody(name: string, spaceId: string, server: string): Record<string, unknown> {
  return {
    name, preset: "private_chat",
    initial_state: [{ type: "m.space.parent", state_key: spaceId, content: { via: [server], canonical: true } }],
  };
}

/** Invites a user; an invite that already happened (the user is invited or joined) counts as done. */
export async function inviteOnce(rooms: MatrixRooms, roomId: string, userId: string): Promise<void> {
  try {
    await rooms.invite(roomId, userId);
  } catch (e) {
    if (!(e instanceof MatrixRequestError) || e.kind !== "forbidden") throw e;
    const member = await rooms.state(roomId, "m.room.member", userId).catch(() => undefined);
    const membership = member?.["membership"];
    if (membership !== "invite" && membership !== "join") throw e;
  }
}
