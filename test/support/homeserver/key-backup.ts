// Server-side key backup (Client-Server spec, "Server-side key backups"): versions per user, and the encrypted room
// keys stored under a version. The double stores what clients send and never reads the key data, as a homeserver.
// A key replaces the stored one for its session only when it is better (verified, then lower first message index,
// then fewer forwards), as the spec says; uploading to a version that is not the current one is refused with
// M_WRONG_ROOM_KEYS_VERSION.
import type { JsonObject } from "./types";
import { badJson, clone, isJsonObject, MatrixHttpError, notFound } from "./types";

interface BackupVersion {
  version: string;
  algorithm: string;
  authData: JsonObject;
  /** room id → session id → KeyBackupData */
  rooms: Map<string, Map<string, JsonObject>>;
  etag: number;
  deleted: boolean;
}

const num = (v: unknown, fallback: number): number => (typeof v === "number" ? v : fallback);

/** Whether `candidate` should replace `stored` (spec: is_verified, then first_message_index, then forwarded_count). */
function better(candidate: JsonObject, stored: JsonObject): boolean {
  if ((candidate["is_verified"] === true) !== (stored["is_verified"] === true)) return candidate["is_verified"] === true;
  const a = num(candidate["first_message_index"], Infinity);
  const b = num(stored["first_message_index"], Infinity);
  if (a !== b) return a < b;
  return num(candidate["forwarded_count"], Infinity) < num(stored["forwarded_count"], Infinity);
}

export class KeyBackups {
  private readonly byUser = new Map<string, BackupVersion[]>();

  private versions(userId: string): BackupVersion[] {
    let list = this.byUser.get(userId);
    if (!list) this.byUser.set(userId, (list = []));
    return list;
  }

  current(userId: string): BackupVersion | undefined {
    return this.versions(userId).filter((v) => !v.deleted).at(-1);
  }

  private find(userId: string, version: string | undefined): BackupVersion {
    const found = version === undefined ? this.current(userId) : this.versions(userId).find((v) => v.version === version && !v.deleted);
    if (!found) throw notFound(version === undefined ? "No backup found" : `Unknown backup version`);
    return found;
  }

  create(userId: string, body: JsonObject): string {
    if (typeof body["algorithm"] !== "string" || !isJsonObject(body["auth_data"])) throw badJson("algorithm and auth_data are required");
    const list = this.versions(userId);
    const version = String(list.length + 1);
    list.push({ version, algorithm: body["algorithm"], authData: clone(body["auth_data"]), rooms: new Map(), etag: 0, deleted: false });
    return version;
  }

  update(userId: string, version: string, body: JsonObject): void {
    const v = this.find(userId, version);
    if (body["algorithm"] !== v.algorithm) throw badJson("Algorithm does not match");
    if (body["version"] !== undefined && body["version"] !== version) throw badJson("Version in body does not match");
    if (!isJsonObject(body["auth_data"])) throw badJson("auth_data is required");
    v.authData = clone(body["auth_data"]);
  }

  remove(userId: string, version: string): void {
    this.find(userId, version).deleted = true;
  }

  info(userId: string, version?: string): JsonObject {
    const v = this.find(userId, version);
    return { version: v.version, algorithm: v.algorithm, auth_data: clone(v.authData), count: this.count(v), etag: String(v.etag) };
  }

  private count(v: BackupVersion): number {
    let n = 0;
    for (const sessions of v.rooms.values()) n += sessions.size;
    return n;
  }

  /** PUT /room_keys/keys: `{rooms: {room: {sessions: {session: KeyBackupData}}}}`. */
  put(userId: string, version: string | undefined, body: JsonObject): JsonObject {
    if (version === undefined) throw new MatrixHttpError(400, "M_MISSING_PARAM", "Missing version");
    const current = this.current(userId);
    if (!current || current.version !== version) {
      throw new MatrixHttpError(403, "M_WRONG_ROOM_KEYS_VERSION", "Wrong backup version.", { current_version: current?.version ?? null });
    }
    const rooms = body["rooms"];
    if (!isJsonObject(rooms)) throw badJson("rooms must be an object");
    let changed = false;
    for (const [roomId, room] of Object.entries(rooms)) {
      const sessions = isJsonObject(room) ? room["sessions"] : undefined;
      if (!isJsonObject(sessions)) continue;
      let stored = current.rooms.get(roomId);
      if (!stored) current.rooms.set(roomId, (stored = new Map()));
      for (const [sessionId, data] of Object.entries(sessions)) {
        if (!isJsonObject(data) || !isJsonObject(data["session_data"])) throw badJson("session_data must be an object");
        const old = stored.get(sessionId);
        if (old === undefined || better(data, old)) {
          stored.set(sessionId, clone(data));
          changed = true;
        }
      }
    }
    if (changed) current.etag += 1;
    return { count: this.count(current), etag: String(current.etag) };
  }

  /** GET /room_keys/keys[/room[/session]]. */
  get(userId: string, version: string | undefined, roomId?: string, sessionId?: string): JsonObject {
    if (version === undefined) throw new MatrixHttpError(400, "M_MISSING_PARAM", "Missing version");
    const v = this.find(userId, version);
    const roomOut = (sessions: Map<string, JsonObject> | undefined): JsonObject => ({ sessions: Object.fromEntries([...(sessions ?? [])].map(([k, d]) => [k, clone(d)])) });
    if (roomId === undefined) return { rooms: Object.fromEntries([...v.rooms].map(([r, s]) => [r, roomOut(s)])) };
    if (sessionId === undefined) return roomOut(v.rooms.get(roomId));
    const one = v.rooms.get(roomId)?.get(sessionId);
    if (!one) throw notFound("No room_keys found");
    return clone(one);
  }
}
