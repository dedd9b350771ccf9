// Who may run a command. "settings": anyone in a DM; in a group room, a power level ≥ the room's
// state_default, a room creator in room version 12 (and later: creators sit outside power_levels.users and
// outrank everyone), or a BOT_ADMINS match. "admin": BOT_ADMINS only. Power levels are read fresh per check.
import type { Logger } from "pino";
import { z } from "zod";
import { MatrixRequestError } from "../matrix/errors";
import { enc, type MatrixHttp } from "../matrix/http";
import { matchesAnyUserGlob } from "../rooms/user-glob";
import type { Permission } from "./registry";

export type PermissionDecision = { allowed: true } | { allowed: false; reply: string };

const powerLevelsSchema = z.looseObject({
  users: z.record(z.string(), z.number()).optional(),
  users_default: z.number().optional(),
  state_default: z.number().optional(),
});

const createContentSchema = z.looseObject({
  room_version: z.string().optional(),
  creator: z.string().optional(),
  additional_creators: z.array(z.unknown()).optional(),
});

const createEventSchema = z.looseObject({
  type: z.literal("m.room.create"),
  sender: z.string().optional(),
  content: createContentSchema,
});
type CreateEvent = { sender?: string | undefined; content: z.infer<typeof createContentSchema> };

export interface PermissionCheckerOptions {
  http: MatrixHttp;
  botAdmins: readonly string[];
  log: Logger;
}

interface RoomPowers {
  /** The level needed to change settings (the room's state_default). */
  required: number;
  levelOf(userId: string): number;
  /** Creators with absolute power (room version 12 and later). */
  privilegedCreators: string[];
}

export class PermissionChecker {
  constructor(private readonly opts: PermissionCheckerOptions) {}

  isAdmin(userId: string): boolean {
    return matchesAnyUserGlob(userId, this.opts.botAdmins);
  }

  async check(permission: Permission, who: { roomId: string; userId: string; isDirect: boolean }): Promise<PermissionDecision> {
    if (permission === "anyone") return { allowed: true };
    if (this.isAdmin(who.userId)) return { allowed: true };
    if (permission === "admin") {
      return { allowed: false, reply: "Sorry, only the bot's admins (BOT_ADMINS) can do that." };
    }
    if (who.isDirect) return { allowed: true };
    let powers: RoomPowers;
    try {
      powers = await this.roomPowers(who.roomId);
    } catch (e) {
      this.opts.log.warn({ roomId: who.roomId, err: e instanceof MatrixRequestError ? e.describe() : String(e) },
        "could not read the room's power levels for a command");
      return { allowed: false, reply: "Sorry, I couldn't check your power level in this room right now. Please try again in a minute." };
    }
    if (powers.privilegedCreators.includes(who.userId)) return { allowed: true };
    if (powers.levelOf(who.userId) >= powers.required) return { allowed: true };
    return {
      allowed: false,
      reply: `Sorry, changing this room's settings needs power level ${powers.required} here (or being a room creator or a bot admin).`,
    };
  }

  private async roomPowers(roomId: string): Promise<RoomPowers> {
    const [create, levels] = await Promise.all([this.createEvent(roomId), this.powerLevels(roomId)]);
    const version = create?.content.room_version ?? "1";
    const creators = create === undefined ? [] : creatorsOf(create);
    const privilegedCreators = creatorsOutrankEveryone(version) ? creators : [];
    if (levels === undefined) {
      // Spec: without an m.room.power_levels event the creator has 100, everyone else 0, and state
      // events need 0 (state_default "defaults to 50 if unspecified, but 0 if there is no
      // m.room.power_levels event at all").
      const creator = creators[0];
      return { required: 0, levelOf: (u) => (u === creator ? 100 : 0), privilegedCreators };
    }
    return {
      required: levels.state_default ?? 50,
      levelOf: (u) => levels.users?.[u] ?? levels.users_default ?? 0,
      privilegedCreators,
    };
  }

  private async powerLevels(roomId: string): Promise<z.infer<typeof powerLevelsSchema> | undefined> {
    const content = await this.state(roomId, "m.room.power_levels", false);
    if (content === undefined) return undefined;
    const parsed = powerLevelsSchema.safeParse(content);
    if (!parsed.success) throw new Error("the room's m.room.power_levels state is malformed");
    return parsed.data;
  }

  /** The create event with its sender (`format=event`); a server that ignores `format` gives content only. */
  private async createEvent(roomId: string): Promise<CreateEvent | undefined> {
    const raw = await this.state(roomId, "m.room.create", true);
    if (raw === undefined) return undefined;
    const asEvent = createEventSchema.safeParse(raw);
    if (asEvent.success) return asEvent.data;
    const asContent = createContentSchema.safeParse(raw);
    if (asContent.success) {
      // Room version 12: the room id is the create event's id with "!" for "$", so the sender can be fetched.
      if (!creatorsOutrankEveryone(asContent.data.room_version ?? "1")) return { content: asContent.data };
      const event = await this.opts.http.request("GET",
        `/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(`$${roomId.slice(1)}`)}`).catch(() => undefined);
      const full = createEventSchema.safeParse(event);
      return full.success ? full.data : { content: asContent.data };
    }
    throw new Error("the room's m.room.create state is malformed");
  }

  /** A state event (content, or the whole event); undefined when the room has none (404). Other failures throw. */
  private async state(roomId: string, type: string, asEvent: boolean): Promise<unknown> {
    try {
      return await this.opts.http.request("GET", `/_matrix/client/v3/rooms/${enc(roomId)}/state/${enc(type)}/`,
        asEvent ? { query: { format: "event" } } : {});
    } catch (e) {
      if (e instanceof MatrixRequestError && e.kind === "not_found") return undefined;
      throw e;
    }
  }
}

/** The sender of m.room.create (content.creator before room version 11) and content.additional_creators. */
function creatorsOf(create: CreateEvent): string[] {
  const first = create.sender ?? create.content.creator;
  const extra = (create.content.additional_creators ?? []).filter((c): c is string => typeof c === "string");
  return [...(first !== undefined ? [first] : []), ...extra];
}

/** Room version 12 introduced creators with infinite power; later numeric versions keep it. */
export function creatorsOutrankEveryone(roomVersion: string): boolean {
  const n = /^\d+$/.test(roomVersion) ? Number(roomVersion) : NaN;
  return n >= 12 || roomVersion === "org.matrix.hydra.11";
}
