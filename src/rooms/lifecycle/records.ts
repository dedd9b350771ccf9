// What the room lifecycle keeps in the store, one namespace per kind of record, each parsed with zod on the
// way out (a malformed value reads as absent and is logged by the caller). keyv has no multi-key write:
// every writer documents its write order.
import { createHash } from "node:crypto";
import { z } from "zod";

export const NAMESPACES = {
  /** room id → why the bot is in it (so a room joined only because of a space is left when the space drops it). */
  origins: "room-origins",
  /** space id → the space the bot follows: its ancestry (loop checks) and the children it follows. */
  spaces: "followed-spaces",
  /** user id → the steps of that user's space provisioning done so far. */
  provisioning: "provisioning",
  /** user id → start time, while that user's provisioning is unfinished (resumed at start). */
  provisioningPending: "provisioning-pending",
  /** `<user id>|<request id>` → the steps of one `/new` chat room. */
  chatRooms: "chat-rooms",
  /** room id → when the introduction was posted (once per room). */
  introductions: "room-introductions",
  /** upgraded room id → the room id its agent thread is keyed on (the first room of the upgrade chain). */
  successors: "room-successors",
  /** room id → when a message there first reached the bot (it has a conversation of its own: never merged). */
  conversations: "room-conversations",
  /** replacement room id → the upgrade waiting to be checked and completed (the room that named it). */
  upgradesPending: "room-upgrades-pending",
  /** user id → how many rooms `/new` created for them (NEW_ROOMS_MAX_PER_USER). */
  chatRoomCounts: "chat-room-counts",
} as const;

/** `joinedBefore`: the bot was in the replacement before the tombstone (it is not left when the check fails). */
export const pendingUpgradeSchema = z.object({ oldRoomId: z.string(), at: z.number(), joinedBefore: z.boolean().optional() });
export type PendingUpgrade = z.infer<typeof pendingUpgradeSchema>;

export const roomOriginSchema = z.object({
  /** Joined for its own sake: an invite, a room the bot created, a room upgrade. Never left because of a space. */
  direct: z.boolean(),
  /** The followed spaces that list this room; when it is not direct and this becomes empty, the bot leaves. */
  spaces: z.array(z.string()),
});
export type RoomOrigin = z.infer<typeof roomOriginSchema>;

export const followedSpaceSchema = z.object({
  /** 0 for a space the bot was invited to; a sub-space is its parent's depth + 1. */
  depth: z.number().int().min(0),
  /** The spaces above this one (outermost first); a child in this list (or the space itself) is a loop. */
  ancestors: z.array(z.string()),
  /** Children followed (present in the space, at most maxChildrenPerSpace), joinable or not. */
  children: z.array(z.string()),
  /** Who invited the bot to the outermost space: its rooms count against that user's SPACES_MAX_ROOMS. */
  inviter: z.string().optional(),
});
export type FollowedSpace = z.infer<typeof followedSpaceSchema>;

/** One room the bot creates in several recorded steps (written right after each step succeeded). */
export const createdRoomStepsSchema = z.object({
  /** Set before createRoom is called: a crash after it means "look for the marker before creating again". */
  createIntent: z.number().optional(),
  roomId: z.string().optional(),
  linked: z.boolean().optional(),
  invited: z.boolean().optional(),
  introPosted: z.boolean().optional(),
});
export type CreatedRoomSteps = z.infer<typeof createdRoomStepsSchema>;

export const provisionRecordSchema = z.object({
  space: createdRoomStepsSchema.default({}),
  room: createdRoomStepsSchema.default({}),
  done: z.boolean().optional(),
});
export type ProvisionRecord = z.infer<typeof provisionRecordSchema>;

export const chatRoomRecordSchema = z.object({ spaceId: z.string(), title: z.string(), room: createdRoomStepsSchema });
export type ChatRoomRecord = z.infer<typeof chatRoomRecordSchema>;

/** The custom state event the bot puts into every room it creates, to find it again after a crash. */
export const PROVISION_MARKER_TYPE = "org.matrixagentbot.provisioned";
export const provisionMarkerSchema = z.object({
  user_id: z.string(),
  kind: z.enum(["space", "chat"]),
  /** "first" for the provisioned chat room; the /new request id otherwise; "space" for the space. */
  request: z.string(),
});
export type ProvisionMarker = z.infer<typeof provisionMarkerSchema>;

/** Content key that marks the bot's introduction messages (tests and clients may filter on it). */
export const INTRO_MARKER = "org.matrixagentbot.intro";

/** A deterministic transaction id: the same purpose in the same room always gives the same id. */
export function lifecycleTxnId(purpose: string, roomId: string): string {
  return `mab.lc.${createHash("sha256").update(`${purpose}\n${roomId}`).digest("base64url").slice(0, 32)}`;
}

/** Parses a stored value; undefined when it is absent or does not match (the caller logs that). */
export function parseStored<T>(schema: z.ZodType<T>, raw: unknown): { value: T | undefined; malformed: boolean } {
  if (raw === undefined || raw === null) return { value: undefined, malformed: false };
  const parsed = schema.safeParse(raw);
  return parsed.success ? { value: parsed.data, malformed: false } : { value: undefined, malformed: true };
}
