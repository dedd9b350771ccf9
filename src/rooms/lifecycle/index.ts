// Room lifecycle, spaces and per-user provisioning (issue 6): app.ts calls installRoomLifecycle once at start.
// What it does, and where:
//   space-follower.ts / child-joins.ts  follow invited spaces' children (bounded queue, caps, loops)
//   provisioning.ts / chat-rooms.ts     a private space + chat room per user; /new rooms
//   introductions.ts                    one introduction per room, on the bot's first join
//   membership.ts                       kicked/banned → failed deliveries, opt-in cleared; last member → leave
//   upgrades.ts                         tombstone → join the replacement, move settings, same agent thread (if real)
//   room-checks.ts                      rooms joined before the bot knows it stays: others wait for the verdict
//   profile.ts                          BOT_DISPLAY_NAME
import type { Logger } from "pino";
import type { Config } from "../../config";
import type { InviteNotice, RoomEvent } from "../../matrix/events";
import type { MatrixHttp } from "../../matrix/http";
import type { RoomDirectory } from "../../matrix/room-directory";
import type { RoomMessageSender } from "../../matrix/sender";
import type { Outbox } from "../../outbox";
import type { RoomEventObserver } from "../../router";
import type { Store } from "../../store";
import { PermissionChecker } from "../../commands/permissions";
import { RoomSettingsStore } from "../settings";
import { allowedUserGlobs, matchesAnyUserGlob } from "../user-glob";
import { ChatRooms, type ChatRoomResult } from "./chat-rooms";
import { ChildJoiner } from "./child-joins";
import { Introductions } from "./introductions";
import { MatrixRooms } from "./matrix-rooms";
import { isOwnJoin, MembershipWatcher, type MembershipDeps } from "./membership";
import { resolveLifecycleOptions, type LifecycleOptions } from "./options";
import { RoomOrigins } from "./origins";
import { syncDisplayName } from "./profile";
import { Provisioner } from "./provisioning";
import { NAMESPACES } from "./records";
import { RoomChecks } from "./room-checks";
import { RoomCreator } from "./room-creator";
import { SpaceFollower } from "./space-follower";
import { BackgroundTasks, describe } from "./tasks";
import { RoomConversations, RoomSuccessors, RoomUpgrades, threadRoomOf } from "./upgrades";
import { FairWorkQueue } from "./work-queue";

export { ChatRoomError, type ChatRoomResult } from "./chat-rooms";
export { introductionText } from "./introductions";
export { DEFAULT_LIFECYCLE_OPTIONS, MAX_CHILDREN_PER_SPACE, MAX_SPACE_DEPTH, type LifecycleOptions } from "./options";
export { INTRO_MARKER, NAMESPACES as LIFECYCLE_NAMESPACES, PROVISION_MARKER_TYPE } from "./records";
export { RoomSuccessors } from "./upgrades";

/** What the lifecycle needs from the room settings store (src/rooms/settings.ts). */
export type LifecycleSettings = Pick<RoomSettingsStore, "moveRoom" | "forgetProactive">;

export interface LifecycleContext {
  config: Config;
  botUserId: string;
  http: MatrixHttp;
  directory: RoomDirectory;
  /** Posts through the outbox (txnIds chosen by the caller, deterministic). */
  messages: RoomMessageSender;
  outbox: Outbox;
  store: Store;
  log: Logger;
  addObserver: (observer: RoomEventObserver) => void;
  /** Users the bot serves (upgrades, introductions); default ALLOWED_USERS, else the bot's own server. */
  isAllowedUser?: (userId: string) => boolean;
  /** The app's room settings store; when absent the lifecycle opens its own over the same namespaces. */
  settings?: LifecycleSettings;
  /** Bounds and retries (tests make them small); production defaults in options.ts. */
  options?: Partial<LifecycleOptions>;
  /** Pending prompts: those of a room the bot left are cancelled. */
  prompts?: MembershipDeps["prompts"];
}

export interface RoomLifecycle {
  /** After the bot joined a room on an invite (the invite handler calls it). */
  onJoined(invite: InviteNotice): Promise<void>;
  /** At start, after the inbound side is running. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** `/new [title]`: a chat room in the user's space (provisioned first if needed). Throws ChatRoomError. */
  createChatRoom(userId: string, title?: string, opts?: { requestId?: string }): Promise<ChatRoomResult>;
  /**
   * The room id a room's agent thread is keyed on: the first room of its upgrade chain (itself if never upgraded).
   * Asked for every routed message: the room is noted as having a conversation of its own (never merged).
   */
  threadRoomFor(roomId: string): Promise<string>;
  /** Resolves when the background work started so far is done (tests). */
  idle(): Promise<void>;
  /** Background tasks running plus space children waiting to be joined (the work_in_flight metric). */
  pendingCount(): number;
}

export function installRoomLifecycle(ctx: LifecycleContext): RoomLifecycle {
  const { config, botUserId, store, log } = ctx;
  const options = resolveLifecycleOptions({
    maxRoomsPerInviter: config.timings.spacesMaxRooms, maxNewRoomsPerUser: config.timings.newRoomsMaxPerUser, ...ctx.options });
  const botName = config.botDisplayName?.trim() || (botUserId.slice(1).split(":")[0] ?? "") || "the bot";
  const tasks = new BackgroundTasks(log);
  const rooms = new MatrixRooms(ctx.http, botUserId, options, log, tasks.signal);
  const settings: LifecycleSettings = ctx.settings ?? new RoomSettingsStore({
    settings: store.namespace("room-settings"), proactiveIndex: store.namespace<number>("proactive-rooms"), log,
  });
  const joined = new Set<string>();
  const checks = new RoomChecks();
  const allowed = allowedUserGlobs(config.allowedUsers, botUserId);
  const isAllowedUser = ctx.isAllowedUser ?? ((userId: string): boolean => matchesAnyUserGlob(userId, allowed));
  const origins = new RoomOrigins(store.namespace(NAMESPACES.origins), log);
  const successors = new RoomSuccessors(store.namespace<string>(NAMESPACES.successors));
  const queue = new FairWorkQueue({ concurrency: options.childJoinConcurrency, maxQueued: options.maxQueuedChildJoins, log, name: "space-children" });
  const leaveRoom = async (roomId: string, reason: string): Promise<void> => {
    await rooms.leave(roomId, reason).catch((e: unknown) => log.warn({ roomId, err: describe(e) }, "could not leave the room"));
  };
  const spaces = new SpaceFollower({
    rooms, origins, joined, queue, tasks, options, log, leaveRoom, store: store.namespace(NAMESPACES.spaces),
    joiner: new ChildJoiner({ rooms, origins, joined, checks, log }),
  });
  const introductions: Introductions = new Introductions({
    store: store.namespace<number>(NAMESPACES.introductions), outbox: ctx.outbox, rooms, botUserId, botName, log, checks,
    isAllowedUser,
    isUpgradeOfKnownRoom: async (roomId, predecessor): Promise<boolean> => (await successors.isSuccessor(roomId)) ||
      (predecessor !== undefined && (await introductions.alreadyIntroduced(predecessor))),
  });
  const creator = new RoomCreator(rooms, origins, joined, log);
  const provisioner = new Provisioner({
    rooms, creator, introductions, tasks, botUserId, botName, log,
    records: store.namespace(NAMESPACES.provisioning), pending: store.namespace<number>(NAMESPACES.provisioningPending),
  });
  const chatRooms = new ChatRooms({ rooms, creator, provisioner, introductions, botUserId, botName, log,
    records: store.namespace(NAMESPACES.chatRooms), counts: store.namespace<number>(NAMESPACES.chatRoomCounts), maxPerUser: options.maxNewRoomsPerUser });
  const membership = new MembershipWatcher({
    botUserId, rooms, outbox: ctx.outbox, settings, origins, spaces, directory: ctx.directory, joined, leaveRoom, log,
    ...(ctx.prompts ? { prompts: ctx.prompts } : {}),
  });
  const permissions = new PermissionChecker({ http: ctx.http, botAdmins: config.botAdmins, log });
  const conversations = new RoomConversations(store.namespace(NAMESPACES.conversations));
  const upgrades = new RoomUpgrades({
    successors, pending: store.namespace(NAMESPACES.upgradesPending), checks, rooms, origins, spaces, settings, joined, leaveRoom, log,
    isAllowedUser,
    maySetSettings: async (roomId, userId) =>
      (await permissions.check("settings", { roomId, userId, isDirect: await ctx.directory.isDirect(roomId) })).allowed,
    conversations, isDirect: (roomId) => ctx.directory.isDirect(roomId),
    isJoined: async (roomId) => joined.has(roomId) || (await rooms.joinedMembers(roomId).catch((): string[] => [])).includes(botUserId),
  });

  const onEvent = async (event: RoomEvent): Promise<void> => {
    switch (event.type) {
      case "m.room.create":
        rooms.noteCreateEvent(event.room_id, event);
        return;
      case "m.room.member":
        if (isOwnJoin(event, botUserId)) {
          await upgrades.onOwnJoin(event.room_id);
          if (await checks.stays(event.room_id)) joined.add(event.room_id);
          await introductions.onOwnJoin(event.room_id);
        } else {
          await membership.onMember(event);
        }
        return;
      case "m.space.child":
        if (config.spacesFollowChildren) await spaces.onChildEvent(event);
        return;
      case "m.room.tombstone":
        await upgrades.onTombstone(event);
        return;
    }
  };
  ctx.addObserver({ name: "room-lifecycle", onEvent });

  return {
    async onJoined(invite) {
      try {
        joined.add(invite.roomId);
        await origins.markDirect(invite.roomId);
        const type = invite.roomType ?? (await rooms.createInfo(invite.roomId))?.type;
        if (type === "m.space" && config.spacesFollowChildren) await spaces.follow(invite.roomId, 0, [], invite.inviter);
        if (config.provisionSpace) provisioner.onInvitedBy(invite.inviter);
      } catch (e) {
        log.warn({ roomId: invite.roomId, err: describe(e) }, "after-join work for an invite failed");
      }
    },
    async start() {
      const steps: Array<[string, () => Promise<void>]> = [
        ["list joined rooms", async () => void (await rooms.joinedRooms()).forEach((r) => joined.add(r))],
        ["set the display name", () => syncDisplayName(ctx.http, botUserId, config.botDisplayName, log)],
        ["resume following spaces", () => (config.spacesFollowChildren ? spaces.start() : Promise.resolve())],
        ["resume provisioning", () => provisioner.start()],
      ];
      for (const [what, step] of steps) await step().catch((e: unknown) => log.warn({ err: describe(e) }, `room lifecycle: could not ${what}`));
    },
    async stop() {
      await queue.stop();
      await tasks.stop();
      await spaces.flush();
    },
    createChatRoom: (userId, title, opts) => chatRooms.create(userId, title, opts),
    threadRoomFor: (roomId) => threadRoomOf(roomId, checks, conversations, successors),
    pendingCount: () => tasks.size + queue.size + queue.active,
    async idle() {
      for (;;) {
        await tasks.idle();
        await queue.idle();
        if (queue.size === 0 && queue.active === 0) {
          await tasks.idle();
          return;
        }
      }
    },
  };
}
