// What the bot knows about each room: joined members and their display names, whether it is a DM, whether it
// is encrypted, its creators and type. Fed by every state/timeline event; fetched on demand when unknown.
// Whether a room is a DM decides whether a message is answered at all, so a transient homeserver failure
// while fetching the members is retried (backoff, retry_after_ms), and in the end thrown, never taken as "no".
// A DM is what the joined members say it is (DESIGN.md, one permission model): `is_direct` on an invite and the
// `m.direct` account data are claims anyone can make, and grant nothing.
// The look-up retry budget is its own (ROOM_LOOKUP_RETRY_*), longer than a 5xx burst, not the MATRIX_RETRY_* one.
import type { Logger } from "pino";
import { LruMap } from "../util/lru";
import { fullJitterBackoff, sleep } from "../util/timers";
import { normalizeMatrixError } from "./errors";
import type { RoomEvent } from "./events";
import { enc, type MatrixHttp } from "./http";

export interface RoomDirectoryOptions {
  /** Attempts to fetch a room's members when the homeserver fails transiently (5xx, 429, network): ROOM_LOOKUP_RETRY_ATTEMPTS, default 6. */
  memberFetchAttempts?: number;
  /** Full-jitter backoff between those attempts: ROOM_LOOKUP_RETRY_BASE_MS / ROOM_LOOKUP_RETRY_MAX_MS, defaults 250 / 5,000. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** The bot's other users (its appservice namespace); the bot itself always is one. */
  isOwnUser?: (userId: string) => boolean;
  /** Users the bot serves (ALLOWED_USERS); the one person of a DM must be one. Default: everyone. */
  isAllowedUser?: (userId: string) => boolean;
  /** Rooms kept in memory, the least recently used dropped first (their members are fetched again). Default 5,000. */
  cacheSize?: number;
}

interface RoomInfo {
  members: Map<string, string | undefined>; // joined user id → display name
  membersLoaded: boolean;
  encrypted: boolean;
  type?: string;
  creators: string[];
  roomVersion?: string;
}

export class RoomDirectory {
  private readonly rooms: LruMap<string, RoomInfo>;
  /** Aborted by stop(): a retry wait ends at once and the look-up fails (shutdown must not wait out a backoff). */
  private readonly stopped = new AbortController();

  private readonly attempts: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly isOwnUser: (userId: string) => boolean;
  private readonly isAllowedUser: (userId: string) => boolean;

  constructor(private readonly http: MatrixHttp, private readonly userId: string, private readonly log: Logger,
    opts: RoomDirectoryOptions = {}) {
    this.attempts = Math.max(1, opts.memberFetchAttempts ?? 6);
    this.retryBaseMs = opts.retryBaseMs ?? 250;
    this.retryMaxMs = opts.retryMaxMs ?? 5_000;
    const ownUsers = opts.isOwnUser;
    this.isOwnUser = (u) => u === userId || ownUsers?.(u) === true;
    this.isAllowedUser = opts.isAllowedUser ?? (() => true);
    this.rooms = new LruMap(Math.max(1, opts.cacheSize ?? 5_000));
  }

  private info(roomId: string): RoomInfo {
    let info = this.rooms.get(roomId);
    if (!info) {
      info = { members: new Map(), membersLoaded: false, encrypted: false, creators: [] };
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

  /** Ends retry waits in progress (their look-ups throw the last error) and every later one at once. */
  stop(): void {
    this.stopped.abort();
  }

  forget(roomId: string): void {
    this.rooms.delete(roomId);
  }

  isEncrypted(roomId: string): boolean {
    return this.rooms.get(roomId)?.encrypted ?? false;
  }

  /**
   * A DM: the bot is joined and exactly one other person is, an allowed user (the bot's own users aside). Throws
   * a MatrixRequestError when the members could not be fetched because the homeserver kept failing transiently.
   */
  async isDirect(roomId: string): Promise<boolean> {
    const info = this.info(roomId);
    await this.loadMembers(info, roomId, this.attempts);
    if (!info.members.has(this.userId)) return false;
    const people = [...info.members.keys()].filter((u) => !this.isOwnUser(u));
    return people.length === 1 && this.isAllowedUser(people[0] ?? "");
  }

  /**
   * Whether the bot is joined, as the room's members say (fetched once, then kept up to date by observe()).
   * A room the homeserver does not know or refuses to show: no. Transient failures are thrown, as in isDirect.
   */
  async isJoined(roomId: string): Promise<boolean> {
    const info = this.info(roomId);
    if (!info.members.has(this.userId)) await this.loadMembers(info, roomId, this.attempts);
    return info.members.has(this.userId);
  }

  /** A member's display name; undefined when unknown (one fetch, never throws: a name is cosmetic). */
  async displayName(roomId: string, userId: string): Promise<string | undefined> {
    const info = this.info(roomId);
    if (!info.members.has(userId)) await this.loadMembers(info, roomId, 1).catch(() => undefined);
    return info.members.get(userId);
  }

  /** A permanent failure (not in the room, forbidden) leaves the members unknown; a transient one is thrown. */
  private async loadMembers(info: RoomInfo, roomId: string, attempts: number): Promise<void> {
    for (let attempt = 1; !info.membersLoaded; attempt++) {
      try {
        const res = await this.http.request<{ joined?: Record<string, { display_name?: string }> }>("GET",
          `/_matrix/client/v3/rooms/${enc(roomId)}/joined_members`);
        for (const [userId, profile] of Object.entries(res.joined ?? {})) {
          info.members.set(userId, typeof profile?.display_name === "string" ? profile.display_name : undefined);
        }
        info.membersLoaded = true;
      } catch (e) {
        const error = normalizeMatrixError(e, "GET joined_members");
        this.log.warn({ roomId, attempt, error: error.describe() }, "could not load room members");
        if (!error.transient) return;
        if (attempt >= attempts) throw error;
        const waitMs = error.retryAfterMs ?? Math.max(1, fullJitterBackoff(attempt, this.retryBaseMs, this.retryMaxMs));
        if (!(await sleep(waitMs, this.stopped.signal))) throw error;
      }
    }
  }
}
