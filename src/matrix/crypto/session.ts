// The bot's crypto device: the SDK's CryptoClient over the WASM bridge, its IndexedDB made durable by
// PersistentCryptoStore (restored before the machine opens, flushed before a sync token is saved or an appservice
// transaction is answered). Client mode: the device of the access token. Appservice mode: a device of the bot's user
// that the as_token masquerades as (appservice-device.ts).
// Every crypto call is wrapped: a failure is logged and answered (false / undefined / a thrown CryptoError
// for encryption), never left as an unhandled rejection.
import type { Logger } from "pino";
import { createSdkCrypto, sdkCryptoStoreName, type DeviceMasquerade, type SdkCrypto } from "../sdk";
import { PersistentCryptoStore } from "./persistent-store";
import { cryptoStoreDir } from "./inspect";
import { undecryptableCause, type UndecryptableCause } from "./decrypt-cause";

export type ClearEvent = { type: string; content: Record<string, unknown> };

export interface CryptoSessionOptions {
  homeserverUrl: string;
  accessToken: string;
  /** DATA_DIR; the device lives in `<dataDir>/crypto`. */
  dataDir: string;
  passphrase: string;
  joinedRoomIds: string[];
  /** PersistentCryptoStore save timing (defaults there). */
  debounceMs?: number;
  maxDelayMs?: number;
  /**
   * Appservice mode: the device to masquerade as, given whether the store held a device (when it did not, a new
   * device is made: a new store cannot take over an old device's keys).
   */
  masquerade?: (storeRestored: boolean) => Promise<DeviceMasquerade>;
}

/** The E2EE parts of a /sync response. */
export interface SyncCryptoSections {
  to_device?: { events?: unknown[] };
  device_lists?: { changed?: unknown[]; left?: unknown[] };
  device_one_time_keys_count?: Record<string, unknown>;
  device_unused_fallback_key_types?: unknown[];
}

export class CryptoError extends Error {
  /** Safe for users: no key material, no stack. */
  readonly userMessage = "This message could not be encrypted; it will be retried.";
}

const strings = (v: unknown[] | undefined): string[] => (v ?? []).filter((x): x is string => typeof x === "string");

export class CryptoSession {
  private constructor(private readonly sdk: SdkCrypto, private readonly store: PersistentCryptoStore,
    private readonly log: Logger) {}

  /** Opens the store (lock, restore), then the device; uploads keys on first start. */
  static async open(opts: CryptoSessionOptions, log: Logger, make: typeof createSdkCrypto = createSdkCrypto): Promise<CryptoSession> {
    const dir = cryptoStoreDir(opts.dataDir);
    const store = await PersistentCryptoStore.open({
      dir, storeName: sdkCryptoStoreName(dir), passphrase: opts.passphrase,
      ...(opts.debounceMs !== undefined ? { debounceMs: opts.debounceMs } : {}),
      ...(opts.maxDelayMs !== undefined ? { maxDelayMs: opts.maxDelayMs } : {}),
    }, log);
    // Write-ahead for Olm: the store is saved before any to-device message it encrypted leaves (see the bridge).
    setBeforeToDeviceSend(() => store.flush());
    try {
      const masquerade = opts.masquerade ? await opts.masquerade(store.restored) : undefined;
      const sdk = make(opts.homeserverUrl, opts.accessToken, dir, masquerade);
      await sdk.prepare(opts.joinedRoomIds);
      await store.flush();
      log.info({ deviceId: sdk.deviceId }, "end-to-end encryption ready");
      return new CryptoSession(sdk, store, log);
    } catch (e) {
      setBeforeToDeviceSend(undefined);
      await store.close().catch(() => undefined);
      throw e;
    }
  }

  get deviceId(): string | undefined {
    return this.sdk.deviceId;
  }

  /** The WASM OlmMachine (cross-signing, key backup: see sdk.ts `olmMachine`). */
  get machine(): unknown {
    return this.sdk.olmMachine();
  }

  /** Saves the store now (after a change made outside a sync batch, e.g. new cross-signing keys). */
  async save(): Promise<void> {
    await this.store.flush();
  }

  get roomKeysReceived(): number {
    return this.sdk.roomKeysReceived;
  }

  /** Feeds to-device events, device-list changes and key counts to the machine (sends what it asks for). */
  async beforeBatch(res: SyncCryptoSections): Promise<void> {
    const counts: Record<string, number> = {};
    for (const [k, v] of Object.entries(res.device_one_time_keys_count ?? {})) if (typeof v === "number") counts[k] = v;
    // Absent fallback key types are unknown, not "none unused" (which would make the machine upload a new one).
    const fallback = res.device_unused_fallback_key_types === undefined ? undefined : strings(res.device_unused_fallback_key_types);
    await this.guard("sync changes", () => this.sdk.updateSyncData(res.to_device?.events ?? [], counts,
      fallback, strings(res.device_lists?.changed), strings(res.device_lists?.left)), undefined);
  }

  /** State and membership: tracks room encryption and the users whose devices must get room keys. */
  async onRoomEvent(roomId: string, event: Record<string, unknown>): Promise<void> {
    await this.guard("room event", () => this.sdk.onRoomEvent(roomId, event), undefined);
  }

  async onRoomJoin(roomId: string): Promise<void> {
    await this.guard("room join", () => this.sdk.onRoomJoin(roomId), undefined);
  }

  /** The clear event, or undefined when it cannot be decrypted (logged with the reason, no content). */
  async decrypt(roomId: string, event: Record<string, unknown>): Promise<{ type: string; content: Record<string, unknown> } | undefined> {
    const result = await this.tryDecrypt(roomId, event);
    return "clear" in result ? result.clear : undefined;
  }

  /** The clear event, or the machine's reason it cannot be decrypted (logged, no content). */
  async tryDecrypt(roomId: string, event: Record<string, unknown>): Promise<{ clear: ClearEvent } | { failed: UndecryptableCause }> {
    try {
      return { clear: await this.sdk.decryptRoomEvent(event, roomId) };
    } catch (e) {
      this.log.warn({ eventId: event["event_id"], error: describe(e) }, "crypto: decrypt failed");
      return { failed: undecryptableCause(e) };
    }
  }

  async isEncrypted(roomId: string): Promise<boolean> {
    return this.guard("room encryption check", () => this.sdk.isRoomEncrypted(roomId), false);
  }

  /** `m.room.encrypted` content for the event; throws CryptoError (logged) when it cannot be encrypted. */
  async encrypt(roomId: string, type: string, content: Record<string, unknown>): Promise<Record<string, unknown>> {
    try {
      return await this.sdk.encryptRoomEvent(roomId, type, content);
    } catch (e) {
      this.log.warn({ roomId, error: describe(e) }, "encryption failed");
      throw new CryptoError(`encryption failed in ${roomId}: ${describe(e)}`);
    }
  }

  /** Saves the crypto store now: call before the sync token moves past the batch (or a transaction is answered). */
  async afterBatch(): Promise<void> {
    await this.store.flush();
  }

  async stop(): Promise<void> {
    setBeforeToDeviceSend(undefined);
    await this.guard("store close", () => this.store.close(), undefined);
    try {
      this.sdk.close();
    } catch (e) {
      this.log.warn({ error: describe(e) }, "crypto: closing the machine failed");
    }
  }

  private async guard<T>(what: string, call: () => Promise<T>, fallback: T, fields: Record<string, unknown> = {}): Promise<T> {
    try {
      return await call();
    } catch (e) {
      this.log.warn({ ...fields, error: describe(e) }, `crypto: ${what} failed`);
      return fallback;
    }
  }
}

function describe(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`.slice(0, 300);
  return String(e).slice(0, 300);
}

/** The bridge's write-ahead hook (packages/matrix-sdk-crypto-nodejs): one machine, one store per process. */
function setBeforeToDeviceSend(fn: (() => Promise<void>) | undefined): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const bridge = require("@matrix-org/matrix-sdk-crypto-nodejs") as { setBeforeToDeviceSend?: (f: typeof fn) => void };
  bridge.setBeforeToDeviceSend?.(fn);
}
