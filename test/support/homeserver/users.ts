// Accounts: users, access tokens and devices, profiles, filters, account data.
import { DeviceRegistry } from "./devices";
import { localpartOf, newAccessToken, newDeviceId } from "./ids";
import type { JsonObject } from "./types";
import { MatrixHttpError } from "./types";

export interface UserRecord {
  userId: string;
  password?: string;
  displayName?: string;
  avatarUrl?: string;
  filters: Map<string, JsonObject>;
  /** Created by an appservice masquerade or /register with m.login.application_service. */
  appserviceId?: string;
}

export type TokenRecord =
  | { kind: "user"; token: string; userId: string; deviceId: string }
  | { kind: "appservice"; token: string; appserviceId: string };

export interface AccountDataEntry {
  content: JsonObject;
  pos: number;
}

export class UserDirectory {
  readonly users = new Map<string, UserRecord>();
  /** Every device of every user (a login makes one; an appservice may, with MSC4190). */
  readonly devices = new DeviceRegistry();
  private readonly tokens = new Map<string, TokenRecord>();
  private readonly revoked = new Set<string>();
  private nextFilterId = 0;
  /** userId → type → entry; room-scoped under key `${userId}\n${roomId}`. */
  private readonly accountData = new Map<string, Map<string, AccountDataEntry>>();

  constructor(readonly serverName: string) {}

  userIdFor(localpartOrId: string): string {
    return localpartOrId.startsWith("@") ? localpartOrId : `@${localpartOrId}:${this.serverName}`;
  }

  create(userId: string, fields: { password?: string; displayName?: string; appserviceId?: string } = {}): UserRecord {
    if (this.users.has(userId)) throw new MatrixHttpError(400, "M_USER_IN_USE", `User ID already taken: ${userId}`);
    const record: UserRecord = { userId, filters: new Map() };
    if (fields.password !== undefined) record.password = fields.password;
    record.displayName = fields.displayName ?? localpartOf(userId);
    if (fields.appserviceId !== undefined) record.appserviceId = fields.appserviceId;
    this.users.set(userId, record);
    return record;
  }

  get(userId: string): UserRecord | undefined {
    return this.users.get(userId);
  }

  require(userId: string): UserRecord {
    const user = this.users.get(userId);
    if (!user) throw new MatrixHttpError(404, "M_NOT_FOUND", `Unknown user ${userId}`);
    return user;
  }

  issueToken(userId: string, deviceId?: string): { accessToken: string; deviceId: string } {
    const token = newAccessToken(localpartOf(userId));
    const device = deviceId ?? newDeviceId();
    this.devices.add(userId, device);
    this.tokens.set(token, { kind: "user", token, userId, deviceId: device });
    return { accessToken: token, deviceId: device };
  }

  registerAppserviceToken(token: string, appserviceId: string): void {
    this.tokens.set(token, { kind: "appservice", token, appserviceId });
  }

  /** undefined: unknown or revoked. */
  resolve(token: string): TokenRecord | undefined {
    if (this.revoked.has(token)) return undefined;
    return this.tokens.get(token);
  }

  revoke(token: string): void {
    this.revoked.add(token);
    this.tokens.delete(token);
  }

  /** A deleted device's access tokens stop working. */
  revokeDevice(userId: string, deviceId: string): void {
    for (const record of [...this.tokens.values()]) {
      if (record.kind === "user" && record.userId === userId && record.deviceId === deviceId) this.revoke(record.token);
    }
  }

  addFilter(userId: string, filter: JsonObject): string {
    const id = String(this.nextFilterId++);
    this.require(userId).filters.set(id, filter);
    return id;
  }

  filter(userId: string, filterId: string): JsonObject | undefined {
    return this.users.get(userId)?.filters.get(filterId);
  }

  setAccountData(userId: string, roomId: string | undefined, type: string, content: JsonObject, pos: number): void {
    const key = roomId === undefined ? userId : `${userId}\n${roomId}`;
    let map = this.accountData.get(key);
    if (!map) {
      map = new Map();
      this.accountData.set(key, map);
    }
    map.set(type, { content, pos });
  }

  getAccountData(userId: string, roomId: string | undefined, type: string): AccountDataEntry | undefined {
    return this.accountData.get(roomId === undefined ? userId : `${userId}\n${roomId}`)?.get(type);
  }

  /** Account data changed after `since` (all of it when since is undefined), as sync events. */
  accountDataSince(userId: string, roomId: string | undefined, since: number | undefined): JsonObject[] {
    const map = this.accountData.get(roomId === undefined ? userId : `${userId}\n${roomId}`);
    if (!map) return [];
    return [...map.entries()]
      .filter(([, entry]) => since === undefined || entry.pos > since)
      .sort(([, a], [, b]) => a.pos - b.pos)
      .map(([type, entry]) => ({ type, content: structuredClone(entry.content) }));
  }
}
