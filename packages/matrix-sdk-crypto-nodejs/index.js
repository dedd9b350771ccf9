"use strict";
// Bridge: the subset of @matrix-org/matrix-sdk-crypto-nodejs 0.1.0-beta.6 that matrix-bot-sdk 0.7.1 calls
// (lib/e2ee/CryptoClient.js, lib/e2ee/RustEngine.js), implemented over @matrix-org/matrix-sdk-crypto-wasm
// 18.9.0 from npm, so no native binary is downloaded. Every difference listed in the project's E2EE notes
// is adapted here; see runbook/encryption.md. The WASM module (~83 MB) loads only when crypto is
// first used: a bot with MATRIX_E2EE=false never loads it.
//
// The store: `OlmMachine.initialize(user, device, storePath, passphrase)` opens the IndexedDB database
// named after `storePath`. An IndexedDB implementation must be installed on `globalThis` first (the bot
// installs fake-indexeddb and snapshots it to a file; see src/matrix/crypto/).

/**
 * Awaited after the machine encrypted to-device messages (room keys, by Olm) and before they are handed out for
 * sending. The bot saves its crypto store here: an Olm session whose ratchet already moved on the wire but not
 * in the store would, after a crash, encrypt with a stale state that the receiving device can no longer decrypt
 * (its sessions with the bot wedged, every later room key lost). Write-ahead: the state is on disk before the
 * message leaves. A rejection fails the share (the message is retried, encrypted anew).
 */
let beforeToDeviceSend;
function setBeforeToDeviceSend(fn) {
  beforeToDeviceSend = fn;
}

async function persistBeforeSending(count) {
  if (count > 0 && beforeToDeviceSend) await guarded("saving before to-device", () => beforeToDeviceSend());
}

let loaded;
function wasm() {
  if (loaded === undefined) loaded = require("@matrix-org/matrix-sdk-crypto-wasm");
  return loaded;
}

/** A crypto failure as an Error (the WASM throws non-Error objects, e.g. MegolmDecryptionError). */
class CryptoBridgeError extends Error {
  constructor(operation, cause) {
    const detail = describe(cause);
    super(`${operation} failed: ${detail.message}`);
    this.name = "CryptoBridgeError";
    this.operation = operation;
    if (detail.code !== undefined) this.code = detail.code;
    this.cause = cause;
  }
}

function describe(e) {
  if (e instanceof Error) return { message: e.message, code: e.code };
  if (e && typeof e === "object") {
    const code = typeof e.code === "number" || typeof e.code === "string" ? e.code : undefined;
    const message = typeof e.description === "string" ? e.description
      : typeof e.message === "string" ? e.message : String(e);
    return { message, code };
  }
  return { message: String(e), code: undefined };
}

async function guarded(operation, fn) {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof CryptoBridgeError) throw e;
    throw new CryptoBridgeError(operation, e);
  }
}

/** Classes the SDK constructs with `new` and hands back to the machine: the WASM classes themselves. */
function delegate(name, statics = []) {
  const C = function (...args) {
    return new (wasm()[name])(...args);
  };
  Object.defineProperty(C, "name", { value: name });
  for (const s of statics) C[s] = (...args) => wasm()[name][s](...args);
  return C;
}

const UserId = delegate("UserId");
const DeviceId = delegate("DeviceId");
const RoomId = delegate("RoomId");
const DeviceLists = delegate("DeviceLists");
const EncryptedAttachment = delegate("EncryptedAttachment");
const Attachment = delegate("Attachment", ["encrypt", "decrypt"]);

/**
 * Plain settings object: the SDK assigns `algorithm = undefined` (rejected by the WASM setter) and a
 * `rotationPeriod` in milliseconds where the binding means microseconds. Converted in `shareRoomKey`.
 */
class EncryptionSettings {
  constructor() {
    this.algorithm = 1; // MegolmV1AesSha2
    this.historyVisibility = 2; // Shared
    this.rotationPeriod = 604800000n; // ms (one week), the SDK's unit
    this.rotationPeriodMessages = 100n;
    this.onlyAllowTrustedDevices = false;
  }
}

/** The WASM consumes (frees) user-id objects passed in arrays; the SDK reuses its arrays. */
function clones(users) {
  return users.map((u) => u.clone());
}

function toWasmSettings(s) {
  const w = new (wasm().EncryptionSettings)();
  w.algorithm = s.algorithm === undefined ? wasm().EncryptionAlgorithm.MegolmV1AesSha2 : s.algorithm;
  w.historyVisibility = s.historyVisibility;
  w.rotationPeriod = BigInt(s.rotationPeriod) * 1000n; // ms → µs
  w.rotationPeriodMessages = BigInt(s.rotationPeriodMessages);
  w.sharingStrategy = wasm().CollectStrategy.allDevices();
  return w;
}

function untrusted() {
  return new (wasm().DecryptionSettings)(wasm().TrustRequirement.Untrusted);
}

/** An outgoing request as the SDK reads it: `{id, type, body}`; to-device bodies carry txn_id/event_type. */
function plainRequest(r) {
  if (r.type === RequestType.ToDevice) {
    const body = JSON.parse(r.body);
    return { id: r.id, type: r.type, body: JSON.stringify({ txn_id: r.txn_id, event_type: r.event_type, messages: body.messages }) };
  }
  return { id: r.id, type: r.type, body: r.body };
}

class Signatures {
  constructor(inner) {
    this.inner = inner;
  }
  /** Plain object keyed by key id; each value has `isValid` as a property (as the SDK reads it). */
  get(userId) {
    const map = this.inner.get(userId);
    const out = {};
    if (!map) return out;
    for (const [keyId, maybe] of map.entries()) {
      out[keyId] = { isValid: maybe.isValid(), isInvalid: maybe.isInvalid(), signature: maybe.signature };
    }
    return out;
  }
  get count() {
    return this.inner.count;
  }
}

class OlmMachine {
  constructor(inner) {
    this.inner = inner;
    /** Rooms whose outbound Megolm session was started by this instance (see shareRoomKey). */
    this.startedSessions = new Set();
  }

  /** `(userId, deviceId, storePath, passphrase, storeType)`: storePath names the IndexedDB store. */
  static async initialize(userId, deviceId, storePath, passphrase, _storeType) {
    if (storePath && typeof globalThis.indexedDB === "undefined") {
      throw new CryptoBridgeError("initialize", new Error("no IndexedDB implementation is installed in this process"));
    }
    const inner = await guarded("initialize", () =>
      wasm().OlmMachine.initialize(userId, deviceId, storePath || undefined, passphrase || undefined));
    // Room key requests for undecryptable events. crypto-wasm 18.9 sends them only to the account's own other
    // devices, and only when one of them is verified (a bot has none): in practice the bot sends none.
    inner.roomKeyRequestsEnabled = true;
    return new OlmMachine(inner);
  }

  get userId() { return this.inner.userId; }
  get deviceId() { return this.inner.deviceId; }
  get identityKeys() { return this.inner.identityKeys; }

  /** Returns the decrypted (and plain) to-device events as a JSON array string. */
  async receiveSyncChanges(toDeviceEvents, changedDevices, oneTimeKeyCounts, unusedFallbackKeys) {
    const counts = new Map(Object.entries(oneTimeKeyCounts ?? {}).filter(([, n]) => typeof n === "number"));
    const fallback = unusedFallbackKeys == null ? undefined : new Set(unusedFallbackKeys);
    const processed = await guarded("receiveSyncChanges", () =>
      this.inner.receiveSyncChanges(toDeviceEvents, changedDevices, counts, fallback, untrusted()));
    const out = [];
    for (const p of processed) {
      const T = wasm().ProcessedToDeviceEventType;
      if ((p.type === T.Decrypted || p.type === T.PlainText) && typeof p.rawEvent === "string") {
        try { out.push(JSON.parse(p.rawEvent)); } catch { /* not JSON: skipped */ }
      }
    }
    return JSON.stringify(out);
  }

  async outgoingRequests() {
    const requests = await guarded("outgoingRequests", () => this.inner.outgoingRequests());
    await persistBeforeSending(requests.filter((r) => r.type === RequestType.ToDevice).length);
    return requests.map(plainRequest);
  }

  async markRequestAsSent(requestId, requestType, response) {
    return guarded("markRequestAsSent", () => this.inner.markRequestAsSent(requestId, requestType, response));
  }

  async updateTrackedUsers(users) {
    return guarded("updateTrackedUsers", () => this.inner.updateTrackedUsers(clones(users)));
  }

  async getMissingSessions(users) {
    const r = await guarded("getMissingSessions", () => this.inner.getMissingSessions(clones(users)));
    return r ? plainRequest(r) : undefined;
  }

  /**
   * Returns a JSON array string of `{txn_id, event_type, messages}`.
   *
   * The first call per room in each instance discards the stored outbound Megolm session and starts a new one:
   * a store restored from a file may hold the session's ratchet a few messages behind what was already sent
   * (the snapshot is debounced), and continuing it would reuse message indexes, i.e. encrypt two messages with
   * the same key. A new session costs one key share per room per start.
   */
  async shareRoomKey(roomId, users, settings) {
    const room = roomId.toString();
    if (!this.startedSessions.has(room)) {
      await guarded("invalidateGroupSession", () => this.inner.invalidateGroupSession(new (wasm().RoomId)(room)));
      this.startedSessions.add(room);
    }
    const requests = await guarded("shareRoomKey", () =>
      this.inner.shareRoomKey(roomId, clones(users), toWasmSettings(settings)));
    await persistBeforeSending(requests.length);
    return JSON.stringify(requests.map((r) => ({ txn_id: r.txn_id, event_type: r.event_type, messages: JSON.parse(r.body).messages })));
  }

  async encryptRoomEvent(roomId, eventType, content) {
    return guarded("encryptRoomEvent", () => this.inner.encryptRoomEvent(roomId, eventType, content));
  }

  /**
   * Accepts events from unverified devices (TrustRequirement.Untrusted). On a missing key the machine
   * queues a room key request (see `initialize`); the error carries the WASM's decryption error code.
   */
  async decryptRoomEvent(event, roomId) {
    const d = await guarded("decryptRoomEvent", () => this.inner.decryptRoomEvent(event, roomId, untrusted()));
    return {
      event: d.event,
      sender: d.sender?.toString(),
      senderDevice: d.senderDevice?.toString(),
      senderCurve25519Key: d.senderCurve25519Key,
      forwardingCurve25519KeyChain: d.forwardingCurve25519KeyChain,
    };
  }

  async sign(message) {
    return new Signatures(await guarded("sign", () => this.inner.sign(message)));
  }

  close() {
    this.inner.close();
  }
}

const RequestType = Object.freeze({
  KeysUpload: 0, KeysQuery: 1, KeysClaim: 2, ToDevice: 3, SignatureUpload: 4, RoomMessage: 5, KeysBackup: 6,
});

exports.OlmMachine = OlmMachine;
exports.UserId = UserId;
exports.DeviceId = DeviceId;
exports.RoomId = RoomId;
exports.DeviceLists = DeviceLists;
exports.EncryptionSettings = EncryptionSettings;
exports.Attachment = Attachment;
exports.EncryptedAttachment = EncryptedAttachment;
exports.Signatures = Signatures;
exports.CryptoBridgeError = CryptoBridgeError;
exports.setBeforeToDeviceSend = setBeforeToDeviceSend;
exports.StoreType = Object.freeze({ Sled: 0, Sqlite: 1 });
exports.RequestType = RequestType;
exports.EncryptionAlgorithm = Object.freeze({ OlmV1Curve25519AesSha2: 0, MegolmV1AesSha2: 1 });
exports.HistoryVisibility = Object.freeze({ Invited: 0, Joined: 1, Shared: 2, WorldReadable: 3 });
exports.isStub = false;
/** The WASM module itself, for callers that need more than the SDK's subset (loads it). */
exports.wasm = wasm;
