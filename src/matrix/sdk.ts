// The one import of matrix-bot-sdk. Everything else talks to the small interfaces in this folder.
//
// matrix-bot-sdk 0.7.1 requires @matrix-org/matrix-sdk-crypto-nodejs at import time. package.json's
// `overrides` replaces that package with packages/matrix-sdk-crypto-nodejs (ours): a bridge of the API the SDK
// calls over @matrix-org/matrix-sdk-crypto-wasm, so no native binary is downloaded. It loads the WASM only on
// first use, with MATRIX_E2EE=true only (src/matrix/crypto, runbook/encryption.md).
import path from "node:path";
import { EncryptedRoomEvent, LogLevel, LogService, MatrixClient, MatrixError, RustSdkCryptoStorageProvider, setRequestFn } from "matrix-bot-sdk";
import { routeSdkLogs } from "../log";
import { ensurePrivateDir, ensurePrivateFile } from "../util/private-files";
import { nodeRequest } from "./request-engine";

/** The file RustSdkCryptoStorageProvider keeps in the crypto folder (device id, room settings). */
const SDK_CRYPTO_FILE = "bot-sdk.json";

// The SDK's own client calls (its crypto client's key queries and uploads) go through its doRequest (request
// building, error mapping, logging); only the HTTP engine underneath is ours: node:http with keep-alive instead of
// the deprecated `request` package. The bot's other Matrix calls do not use the SDK (direct-request.ts).
setRequestFn(nodeRequest);

export { LogLevel, LogService, MatrixError };

export function isSdkMatrixError(e: unknown): e is MatrixError {
  return e instanceof MatrixError;
}

/** Routes the SDK's global LogService into our logger (secrets scrubbed there, raw HTTP objects dropped). */
export function routeSdkLogsInto(logger: import("pino").Logger): void {
  routeSdkLogs(logger, { LogService, LogLevel });
}

/** What the bot needs of the SDK's CryptoClient (MATRIX_E2EE=true). Raw Matrix JSON in and out. */
export interface SdkCrypto {
  readonly deviceId: string | undefined;
  /** Room keys (`m.room_key`) the device has received since it was created. */
  readonly roomKeysReceived: number;
  prepare(joinedRoomIds: string[]): Promise<void>;
  /** `unusedFallbackKeyTypes` undefined: not known (the machine keeps what it believes). */
  updateSyncData(toDevice: unknown[], otkCounts: Record<string, number>, unusedFallbackKeyTypes: string[] | undefined,
    changedDeviceLists: string[], leftDeviceLists: string[]): Promise<void>;
  onRoomEvent(roomId: string, event: Record<string, unknown>): Promise<void>;
  onRoomJoin(roomId: string): Promise<void>;
  isRoomEncrypted(roomId: string): Promise<boolean>;
  encryptRoomEvent(roomId: string, type: string, content: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** The clear `{type, content}` of an `m.room.encrypted` event; throws when it cannot be decrypted. */
  decryptRoomEvent(event: Record<string, unknown>, roomId: string): Promise<{ type: string; content: Record<string, unknown> }>;
  /** Closes the machine (its IndexedDB connections); the object is unusable afterwards. */
  close(): void;
  /**
   * The crypto-wasm OlmMachine under the SDK's engine (after prepare), for what the SDK does not do: cross-signing,
   * key backup, room-key callbacks (crypto/cross-signing.ts, crypto/key-backup.ts). Typed by its users.
   */
  olmMachine(): unknown;
}

/** Appservice mode: the device the crypto client acts as, with the as_token (MSC3202 / MSC4326 device masquerading). */
export interface DeviceMasquerade {
  userId: string;
  deviceId: string;
}

/**
 * A MatrixClient with the SDK's crypto over our WASM bridge; its store is the IndexedDB named by the resolved
 * `cryptoDir` (open a PersistentCryptoStore with that storeName first) plus the SDK's `bot-sdk.json` there.
 * With `masquerade` (appservice mode, `accessToken` the as_token) every request of the device names its user and
 * device: `user_id`, `org.matrix.msc3202.device_id` (Synapse) and `device_id` (MSC4326).
 */
export function createSdkCrypto(homeserverUrl: string, accessToken: string, cryptoDir: string, masquerade?: DeviceMasquerade): SdkCrypto {
  // The SDK writes bot-sdk.json with the process's umask; created (or tightened) first, it keeps mode 0600.
  ensurePrivateDir(cryptoDir);
  ensurePrivateFile(path.join(cryptoDir, SDK_CRYPTO_FILE));
  const provider = new RustSdkCryptoStorageProvider(cryptoDir);
  const client = new MatrixClient(homeserverUrl, accessToken, undefined, provider);
  if (masquerade) {
    void provider.setDeviceId(masquerade.deviceId); // lowdb writes synchronously; prepare() reads it instead of whoami
    client.impersonateUserId(masquerade.userId, masquerade.deviceId);
    const request = client.doRequest.bind(client);
    client.doRequest = (method, endpoint, qs, ...rest) => request(method, endpoint, { ...(qs ?? {}), device_id: masquerade.deviceId }, ...rest);
  }
  let roomKeys = 0;
  client.on("to_device.decrypted", (message: { type?: unknown } | undefined) => {
    if (message?.type === "m.room_key") roomKeys += 1;
  });
  const crypto = client.crypto;
  return {
    get deviceId() {
      return crypto.clientDeviceId;
    },
    get roomKeysReceived() {
      return roomKeys;
    },
    prepare: (rooms) => crypto.prepare(rooms),
    updateSyncData: (toDevice, counts, fallback, changed, left) =>
      crypto.updateSyncData(toDevice as never[], counts as never, fallback as never, changed, left),
    // Room encryption settings only. CryptoClient.onRoomEvent/onRoomJoin would also track members via
    // updateTrackedUsers + getMissingSessions without sending the keys query in between, and the Rust machine
    // then waits 5 s for that query on every membership event. Tracking is not needed to decrypt, and before
    // every encryption prepareEncrypt tracks the members, queries and claims in the right order itself.
    onRoomEvent: (roomId, event) => roomTracker(crypto).onRoomEvent(roomId, event),
    onRoomJoin: (roomId) => roomTracker(crypto).onRoomJoin(roomId),
    isRoomEncrypted: (roomId) => crypto.isRoomEncrypted(roomId),
    encryptRoomEvent: async (roomId, type, content) =>
      (await crypto.encryptRoomEvent(roomId, type, content)) as unknown as Record<string, unknown>,
    decryptRoomEvent: async (event, roomId) => {
      const clear = await crypto.decryptRoomEvent(new EncryptedRoomEvent(event), roomId);
      return { type: clear.type, content: (clear.content ?? {}) as Record<string, unknown> };
    },
    close: () => {
      // CryptoClient has no close; its engine holds the OlmMachine (undefined before prepare).
      const engine = (crypto as unknown as { engine?: { machine?: { close(): void } } }).engine;
      engine?.machine?.close();
    },
    // The bridge's OlmMachine (packages/matrix-sdk-crypto-nodejs) keeps the WASM machine as `inner`.
    olmMachine: () => (crypto as unknown as { engine?: { machine?: { inner?: unknown } } }).engine?.machine?.inner,
  };
}

function roomTracker(crypto: object): { onRoomEvent(roomId: string, event: object): Promise<void>; onRoomJoin(roomId: string): Promise<void> } {
  const tracker = (crypto as { roomTracker?: ReturnType<typeof roomTracker> }).roomTracker;
  if (!tracker) throw new Error("matrix-bot-sdk's CryptoClient has no roomTracker (SDK version changed?)");
  return tracker;
}

/** The path the SDK's crypto store resolves `cryptoDir` to: the IndexedDB store name. */
export function sdkCryptoStoreName(cryptoDir: string): string {
  return path.resolve(cryptoDir);
}
