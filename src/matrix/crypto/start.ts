// The one entry point the composition root calls for MATRIX_E2EE=true: opens the crypto session and hands back what
// the rest of the bot plugs in: the hooks that feed and save the device (client mode's sync loop; appservice mode's
// transactions, with the device the as_token masquerades as), a sender wrapper that encrypts room events for encrypted
// rooms (same txnId, so the outbox and its retries stay as they are), and the notice text for messages the bot cannot
// decrypt.
import path from "node:path";
import type { Logger } from "pino";
import type { TransactionCrypto } from "../appservice-crypto";
import type { SyncCryptoHook } from "../client-sync";
import { MatrixRequestError } from "../errors";
import type { RoomEvent } from "../events";
import type { MatrixHttp } from "../http";
import { REDACTION_TYPE, type RoomMessageSender, type SendResult } from "../sender";
import { appserviceDevice } from "./appservice-device";
import { cryptoStoreDir } from "./inspect";
import { CryptoSession, type ClearEvent, type CryptoSessionOptions } from "./session";
import type { UndecryptableCause } from "./decrypt-cause";
import { createTrustHttp } from "./trust-http";
import { crossSignAtStart, deviceTrust, type DeviceTrust } from "./trust";
import { KeyBackupUploader, type BackupMachine } from "./key-backup";

export const UNDECRYPTABLE_NOTICE =
  "🔒 I couldn't decrypt a message here: my device did not get its key. If your client only shares keys with " +
  "verified devices, verify my device or turn that setting off, then send the message again.";

export interface StartCryptoOptions {
  homeserverUrl: string;
  accessToken: string;
  dataDir: string;
  passphrase: string;
  /** Client-Server HTTP (our own), for the joined-room list the device prepares with. */
  http: MatrixHttp;
  log: Logger;
  debounceMs?: number;
  maxDelayMs?: number;
  /** Appservice mode (`accessToken` is the as_token): the bot's user, whose device the as_token masquerades as. */
  appservice?: { userId: string; deviceDisplayName: string };
  /** Cross-sign the device at start where no password is needed (default true; `npm run crypto` passes false). */
  crossSignAtStart?: boolean;
  /** Timeout of the cross-signing and backup calls (default 30 s). */
  trustTimeoutMs?: number;
}

export interface CryptoRuntime {
  syncHook: SyncCryptoHook;
  /** Appservice mode: what the transaction server feeds the device with (appservice-crypto.ts). */
  transactionCrypto: TransactionCrypto | undefined;
  /** Encrypts `sendEvent` for encrypted rooms; typing and receipts pass through. */
  wrapSender<S extends RoomMessageSender>(sender: S): RoomMessageSender;
  /** Text of the once-per-room notice for undecryptable messages. */
  undecryptableNotice: string;
  /** Whether room events sent into `roomId` are encrypted. */
  isEncrypted(roomId: string): Promise<boolean>;
  deviceId: string | undefined;
  /** Cross-signing (and the machine for key backup). */
  trust: DeviceTrust;
  /** Uploads room keys to the server-side backup as they arrive (when a backup was set up). */
  backup: KeyBackupUploader;
  /** Decrypts an event again (its key may have arrived late): the clear event (same event id), or why not. */
  redecrypt(event: RoomEvent): Promise<{ ok: true; event: RoomEvent } | { ok: false; cause: UndecryptableCause }>;
  /** Called with the room keys (room id, Megolm session id) the device received, after the machine processed them. */
  onRoomKeys(listener: (keys: RoomKeyRef[]) => void): void;
  stop(): Promise<void>;
}

/** A Megolm room key the device received: the events of that session in that room can be read now. */
export interface RoomKeyRef {
  roomId: string;
  sessionId: string;
}

export async function startCrypto(opts: StartCryptoOptions): Promise<CryptoRuntime> {
  const joined = await opts.http.request<{ joined_rooms?: unknown }>("GET", "/_matrix/client/v3/joined_rooms");
  const joinedRoomIds = Array.isArray(joined?.joined_rooms) ? joined.joined_rooms.filter((r): r is string => typeof r === "string") : [];
  const sessionOpts: CryptoSessionOptions = {
    homeserverUrl: opts.homeserverUrl, accessToken: opts.accessToken, dataDir: opts.dataDir, passphrase: opts.passphrase, joinedRoomIds,
    ...(opts.debounceMs !== undefined ? { debounceMs: opts.debounceMs } : {}),
    ...(opts.maxDelayMs !== undefined ? { maxDelayMs: opts.maxDelayMs } : {}),
  };
  const as = opts.appservice;
  if (as) {
    const dir = path.resolve(cryptoStoreDir(opts.dataDir));
    sessionOpts.masquerade = async (restored) => ({ userId: as.userId, deviceId: await appserviceDevice({
      http: opts.http, userId: as.userId, dir, displayName: as.deviceDisplayName, log: opts.log }, restored) });
  }
  const session = await CryptoSession.open(sessionOpts, opts.log);
  const syncHook = cryptoSyncHook(session);
  const deviceId = session.deviceId;
  if (as && deviceId === undefined) {
    await session.stop();
    throw new Error("the crypto device has no device id after it opened");
  }
  const masqueradeQuery = as && deviceId !== undefined
    ? { user_id: as.userId, "org.matrix.msc3202.device_id": deviceId, device_id: deviceId } : undefined;
  const trust = deviceTrust(session, createTrustHttp({ homeserverUrl: opts.homeserverUrl, accessToken: opts.accessToken,
    timeoutMs: opts.trustTimeoutMs ?? 30_000, ...(masqueradeQuery ? { query: masqueradeQuery } : {}) }));
  if (opts.crossSignAtStart !== false) await crossSignAtStart(trust, as ? "appservice" : "client", opts.log);
  const backup = new KeyBackupUploader(session.machine as BackupMachine, trust.http, path.resolve(cryptoStoreDir(opts.dataDir)), opts.log);
  await backup.start().catch((e: unknown) => opts.log.warn({ error: String(e).slice(0, 300) }, "key backup could not start; room keys are not backed up"));
  // New room keys: backed up soon after, and the events waiting for them read again (outside the machine's sync
  // processing, which calls this; the key infos are read here, before the machine frees them).
  const keyListeners: Array<(keys: RoomKeyRef[]) => void> = [];
  (session.machine as RoomKeyCallbacks).registerRoomKeyUpdatedCallback(async (infos) => {
    const keys = infos.map((info) => ({ roomId: String(info.roomId), sessionId: String(info.sessionId) }));
    setImmediate(() => {
      backup.kick();
      for (const listener of keyListeners) {
        try {
          listener(keys);
        } catch (e) {
          opts.log.warn({ error: String(e).slice(0, 300) }, "a room-key listener failed");
        }
      }
    });
  });
  return {
    syncHook,
    trust,
    transactionCrypto: as && deviceId !== undefined
      ? { device: { userId: as.userId, deviceId }, hook: syncHook, roomKeysReceived: () => session.roomKeysReceived }
      : undefined,
    wrapSender: (sender) => encryptingSender(sender, session, opts.log),
    undecryptableNotice: UNDECRYPTABLE_NOTICE,
    isEncrypted: (roomId) => session.isEncrypted(roomId),
    deviceId: session.deviceId,
    backup,
    redecrypt: async (event) => {
      const result = await session.tryDecrypt(event.room_id, event);
      return "clear" in result ? { ok: true, event: clearRoomEvent(event, result.clear) } : { ok: false, cause: result.failed };
    },
    onRoomKeys: (listener) => keyListeners.push(listener),
    stop: async () => {
      await backup.idle();
      await session.stop();
    },
  };
}

interface RoomKeyCallbacks {
  registerRoomKeyUpdatedCallback(callback: (info: Array<{ roomId: unknown; sessionId: unknown }>) => Promise<void>): void;
}

const CRYPTO_STATE_TYPES = new Set(["m.room.encryption", "m.room.history_visibility"]);

type Session = Pick<CryptoSession, "beforeBatch" | "onRoomEvent" | "decrypt" | "afterBatch" | "isEncrypted" | "encrypt">;

export function cryptoSyncHook(session: Session): SyncCryptoHook {
  return {
    beforeBatch: (res) => session.beforeBatch(typeof res === "object" && res !== null ? res : {}),
    // Only what the room tracker acts on: room encryption settings (see createSdkCrypto).
    onStateEvent: async (event) => {
      if (CRYPTO_STATE_TYPES.has(event.type)) await session.onRoomEvent(event.room_id, event);
    },
    decrypt: async (event: RoomEvent) => {
      const clear = await session.decrypt(event.room_id, event);
      return clear ? clearRoomEvent(event, clear) : "undecryptable";
    },
    afterBatch: () => session.afterBatch(),
  };
}

/** The decrypted event under the encrypted one's id; the relation stays where the sender put it (outside the ciphertext). */
function clearRoomEvent(event: RoomEvent, clear: ClearEvent): RoomEvent {
  const relation = event.content["m.relates_to"];
  const content = relation !== undefined && clear.content["m.relates_to"] === undefined ? { ...clear.content, "m.relates_to": relation } : clear.content;
  return { ...event, type: clear.type, content };
}

export function encryptingSender(sender: RoomMessageSender, session: Session, log: Logger): RoomMessageSender {
  return {
    sendEvent: async (roomId, type, content, txnId): Promise<SendResult> => {
      // Redactions are never encrypted (the homeserver must read what they redact).
      if (type === REDACTION_TYPE || !(await session.isEncrypted(roomId))) return sender.sendEvent(roomId, type, content, txnId);
      let encrypted: Record<string, unknown>;
      try {
        encrypted = await session.encrypt(roomId, type, content);
      } catch (e) {
        log.warn({ roomId, txnId }, "message not sent: encryption failed; it stays queued");
        const error = new MatrixRequestError("server", undefined, undefined, `encryption failed: ${String(e)}`.slice(0, 300), undefined);
        return { ok: false, error, permanent: false, attempts: 1 };
      }
      const relation = content["m.relates_to"];
      if (relation !== undefined && encrypted["m.relates_to"] === undefined) encrypted = { ...encrypted, "m.relates_to": relation };
      return sender.sendEvent(roomId, "m.room.encrypted", encrypted, txnId);
    },
    setTyping: (roomId, typing, timeoutMs) => sender.setTyping(roomId, typing, timeoutMs),
    sendReadReceipt: (roomId, eventId) => sender.sendReadReceipt(roomId, eventId),
  };
}
