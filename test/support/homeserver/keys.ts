// End-to-end encryption key distribution (Client-Server spec, "End-to-End Encryption" module): device keys,
// one-time and fallback keys, to-device messages, and the device-list / key-count sections of /sync.
// Positions share the model's stream, so a parked /sync wakes on a to-device message or a key change.
import { CrossSigningDirectory, mergeSignatures, publicKeyOf, verifySignature } from "./cross-signing";
import type { JsonObject } from "./types";
import { clone, isJsonObject } from "./types";

interface ToDeviceEntry {
  pos: number;
  event: JsonObject;
}

interface DeviceRecord {
  keys?: JsonObject;
  /** Signatures uploaded with /keys/signatures/upload: kept apart and merged into every answer, as Synapse does. */
  crossSignatures?: JsonObject;
  keysPos: number;
  /** key id ("signed_curve25519:AAAA") → key */
  oneTimeKeys: Map<string, unknown>;
  fallbackKeys: Map<string, unknown>;
  /** Algorithms whose fallback key has been handed out by a claim. */
  usedFallback: Set<string>;
  inbox: ToDeviceEntry[];
}

const algorithmOf = (keyId: string): string => keyId.split(":")[0] ?? keyId;

/** Sees key changes and to-device messages as they happen (appservice transactions carry them: appservice-e2ee.ts). */
export interface KeyObserver {
  toDevice?(userId: string, deviceId: string, event: JsonObject): void;
  deviceKeysChanged?(userId: string): void;
}

export class KeyDirectory {
  private readonly devices = new Map<string, Map<string, DeviceRecord>>();
  private readonly observers: KeyObserver[] = [];
  /** Master, self-signing and user-signing keys (cross-signing.ts). */
  readonly crossSigning: CrossSigningDirectory;
  /** When a user last lost a device (a device-list change). */
  private readonly removedPos = new Map<string, number>();
  /** Test control: `user|device` (or `user|*`) whose to-device messages are held back, and what was held. */
  private readonly holds = new Set<string>();
  private heldBack: Array<{ userId: string; deviceId: string; event: JsonObject }> = [];

  /** `bump` advances the homeserver's stream and wakes parked syncs. */
  constructor(private readonly bump: () => number) {
    this.crossSigning = new CrossSigningDirectory(bump);
  }

  observe(observer: KeyObserver): void {
    this.observers.push(observer);
  }

  private device(userId: string, deviceId: string): DeviceRecord {
    let byUser = this.devices.get(userId);
    if (!byUser) this.devices.set(userId, (byUser = new Map()));
    let record = byUser.get(deviceId);
    if (!record) {
      record = { keysPos: 0, oneTimeKeys: new Map(), fallbackKeys: new Map(), usedFallback: new Set(), inbox: [] };
      byUser.set(deviceId, record);
    }
    return record;
  }

  /** POST /keys/upload. Returns the one-time key counts per algorithm. */
  upload(userId: string, deviceId: string, body: JsonObject): Record<string, number> {
    const record = this.device(userId, deviceId);
    if (isJsonObject(body["device_keys"])) {
      record.keys = clone(body["device_keys"]);
      record.keysPos = this.bump();
      for (const o of this.observers) o.deviceKeysChanged?.(userId);
    }
    if (isJsonObject(body["one_time_keys"])) {
      for (const [id, key] of Object.entries(body["one_time_keys"])) if (!record.oneTimeKeys.has(id)) record.oneTimeKeys.set(id, clone(key));
    }
    if (isJsonObject(body["fallback_keys"])) {
      for (const [id, key] of Object.entries(body["fallback_keys"])) {
        const algorithm = algorithmOf(id);
        for (const old of [...record.fallbackKeys.keys()]) if (algorithmOf(old) === algorithm) record.fallbackKeys.delete(old);
        record.fallbackKeys.set(id, clone(key));
        record.usedFallback.delete(algorithm);
      }
    }
    return this.counts(userId, deviceId);
  }

  counts(userId: string, deviceId: string): Record<string, number> {
    const out: Record<string, number> = { signed_curve25519: 0 };
    for (const id of this.devices.get(userId)?.get(deviceId)?.oneTimeKeys.keys() ?? []) out[algorithmOf(id)] = (out[algorithmOf(id)] ?? 0) + 1;
    return out;
  }

  unusedFallbackTypes(userId: string, deviceId: string): string[] {
    const record = this.devices.get(userId)?.get(deviceId);
    if (!record) return [];
    return [...new Set([...record.fallbackKeys.keys()].map(algorithmOf))].filter((a) => !record.usedFallback.has(a));
  }

  /** POST /keys/query: `{user: [device ids]}` (empty list: every device), with the users' cross-signing keys. */
  query(request: JsonObject, requester = ""): JsonObject {
    const deviceKeys: JsonObject = {};
    for (const [userId, wanted] of Object.entries(request)) {
      const out: JsonObject = {};
      const list = Array.isArray(wanted) ? wanted.filter((d): d is string => typeof d === "string") : [];
      for (const [deviceId, record] of this.devices.get(userId) ?? []) {
        if (!record.keys || !(list.length === 0 || list.includes(deviceId))) continue;
        const keys = clone(record.keys);
        if (record.crossSignatures) mergeSignatures(keys, { signatures: record.crossSignatures });
        out[deviceId] = keys;
      }
      deviceKeys[userId] = out;
    }
    return { device_keys: deviceKeys, failures: {}, ...this.crossSigning.queryFields(requester, Object.keys(request)) };
  }

  /** POST /keys/claim: one key per requested device; the fallback key when the one-time keys ran out. */
  claim(request: JsonObject): JsonObject {
    const claimed: JsonObject = {};
    for (const [userId, wanted] of Object.entries(request)) {
      if (!isJsonObject(wanted)) continue;
      for (const [deviceId, algorithm] of Object.entries(wanted)) {
        const record = this.devices.get(userId)?.get(deviceId);
        if (!record || typeof algorithm !== "string") continue;
        let hit = [...record.oneTimeKeys.entries()].find(([id]) => algorithmOf(id) === algorithm);
        if (hit) record.oneTimeKeys.delete(hit[0]);
        else {
          hit = [...record.fallbackKeys.entries()].find(([id]) => algorithmOf(id) === algorithm);
          if (hit) record.usedFallback.add(algorithm);
        }
        if (!hit) continue;
        const byUser = (claimed[userId] ??= {}) as JsonObject;
        byUser[deviceId] = { [hit[0]]: clone(hit[1]) as JsonObject };
      }
    }
    return { one_time_keys: claimed, failures: {} };
  }

  /** PUT /sendToDevice: `{user: {device id or "*": content}}`. */
  send(sender: string, type: string, messages: JsonObject): void {
    const pos = this.bump();
    for (const [userId, byDevice] of Object.entries(messages)) {
      if (!isJsonObject(byDevice)) continue;
      for (const [deviceId, content] of Object.entries(byDevice)) {
        const targets = deviceId === "*" ? [...(this.devices.get(userId)?.keys() ?? [])] : [deviceId];
        for (const target of targets) {
          const event = { type, sender, content: clone(content) as JsonObject };
          if (this.holds.has(`${userId}|${target}`) || this.holds.has(`${userId}|*`)) this.heldBack.push({ userId, deviceId: target, event });
          else this.deliver(userId, target, pos, event);
        }
      }
    }
  }

  private deliver(userId: string, deviceId: string, pos: number, event: JsonObject): void {
    this.device(userId, deviceId).inbox.push({ pos, event });
    for (const o of this.observers) o.toDevice?.(userId, deviceId, clone(event));
  }

  /**
   * Test control (a late room key): to-device messages for the device (every device of the user when none is named)
   * are held back, neither in /sync nor in appservice transactions, until releaseToDevice.
   */
  holdToDevice(userId: string, deviceId = "*"): void {
    this.holds.add(`${userId}|${deviceId}`);
  }

  /** Ends the hold and delivers what it held back, in the order sent, as new to-device messages. Returns how many. */
  releaseToDevice(userId: string, deviceId = "*"): number {
    this.holds.delete(`${userId}|${deviceId}`);
    const released = this.heldBack.filter((h) => h.userId === userId && (deviceId === "*" || h.deviceId === deviceId)
      && !this.holds.has(`${userId}|${h.deviceId}`) && !this.holds.has(`${userId}|*`));
    if (released.length === 0) return 0;
    this.heldBack = this.heldBack.filter((h) => !released.includes(h));
    const pos = this.bump();
    for (const h of released) this.deliver(h.userId, h.deviceId, pos, h.event);
    return released.length;
  }

  /** To-device messages held back for the user now (each type once per message). */
  heldToDevice(userId: string): string[] {
    return this.heldBack.filter((h) => h.userId === userId).map((h) => String(h.event["type"]));
  }

  /**
   * The to-device events for a /sync from `since`: everything not yet acknowledged. Using a next_batch as
   * `since` acknowledges (deletes) the messages delivered up to it, as the spec describes.
   */
  toDevice(userId: string, deviceId: string | undefined, since: number | undefined): JsonObject[] {
    if (deviceId === undefined) return [];
    const record = this.devices.get(userId)?.get(deviceId);
    if (!record) return [];
    if (since !== undefined) record.inbox = record.inbox.filter((e) => e.pos > since);
    return record.inbox.map((e) => clone(e.event));
  }

  /** Whether any device uploaded keys (device-list tracking costs nothing until then). */
  get inUse(): boolean {
    return this.devices.size > 0;
  }

  /** Users among `candidates` whose device keys changed after `since`. */
  changedSince(candidates: Iterable<string>, since: number): string[] {
    const out: string[] = [];
    for (const userId of candidates) {
      const devices = this.devices.get(userId);
      if ((devices && [...devices.values()].some((d) => d.keysPos > since)) || this.crossSigning.changedSince(userId, since)
        || (this.removedPos.get(userId) ?? 0) > since) out.push(userId);
    }
    return out;
  }

  /**
   * POST /keys/signatures/upload: `{user: {device id or master public key: signed object}}`. A device is signed by
   * its owner's self-signing key; the owner's master key by one of the owner's devices; another user's master key
   * by the uploader's user-signing key. Signatures that do not verify are reported in `failures`, as Synapse does.
   */
  uploadSignatures(uploader: string, body: JsonObject): JsonObject {
    const failures: JsonObject = {};
    const fail = (userId: string, keyId: string, error: string): void => {
      ((failures[userId] ??= {}) as JsonObject)[keyId] = { errcode: "M_INVALID_SIGNATURE", error };
    };
    for (const [userId, byKey] of Object.entries(body)) {
      if (!isJsonObject(byKey)) continue;
      for (const [keyId, signed] of Object.entries(byKey)) {
        if (!isJsonObject(signed)) continue;
        try {
          if (userId === uploader && this.crossSigning.signMaster(userId, keyId, signed, this.deviceSigningKeys(userId))) continue;
          const record = this.devices.get(userId)?.get(keyId);
          if (userId === uploader && record?.keys) {
            const selfSigning = publicKeyOf(this.crossSigning.get(userId, "self_signing"));
            if (selfSigning === undefined || !verifySignature(signed, userId, selfSigning)) throw new Error("Invalid signature");
            const holder: JsonObject = { signatures: record.crossSignatures ?? {} };
            mergeSignatures(holder, signed);
            record.crossSignatures = holder["signatures"] as JsonObject;
            record.keysPos = this.bump();
            for (const o of this.observers) o.deviceKeysChanged?.(userId);
          } else if (userId !== uploader) {
            const userSigning = publicKeyOf(this.crossSigning.get(uploader, "user_signing"));
            if (userSigning === undefined || !verifySignature(signed, uploader, userSigning)) throw new Error("Invalid signature");
          } else {
            throw new Error("Unknown key");
          }
        } catch (e) {
          fail(userId, keyId, e instanceof Error ? e.message : "Invalid signature");
        }
      }
    }
    return { failures };
  }

  /** The ed25519 keys of the user's devices (what may sign the user's master key). */
  private deviceSigningKeys(userId: string): string[] {
    const out: string[] = [];
    for (const [deviceId, record] of this.devices.get(userId) ?? []) {
      const keys = record.keys?.["keys"];
      const key = isJsonObject(keys) ? keys[`ed25519:${deviceId}`] : undefined;
      if (typeof key === "string") out.push(key);
    }
    return out;
  }

  /** A deleted device's keys go with it (its owner's device list changes). */
  removeDevice(userId: string, deviceId: string): void {
    if (this.devices.get(userId)?.delete(deviceId)) {
      this.removedPos.set(userId, this.bump());
      for (const o of this.observers) o.deviceKeysChanged?.(userId);
    }
  }

  /** Test helper: the device ids of a user that uploaded device keys. */
  deviceIds(userId: string): string[] {
    return [...(this.devices.get(userId) ?? [])].filter(([, r]) => r.keys !== undefined).map(([id]) => id);
  }
}
