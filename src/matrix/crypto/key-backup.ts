// Server-side key backup (`m.megolm_backup.v1.curve25519-aes-sha2`): the room keys the device receives are encrypted
// to the backup's public key and uploaded as they arrive, so a lost crypto store can be rebuilt from the backup with
// the backup key (`npm run crypto -- restore`). The backup key is shown once at setup; the operator keeps it (there is
// no secret storage). The uploader writes its state to `backup-status.json` beside the store for `npm run doctor`.
import { promises as fs } from "node:fs";
import path from "node:path";
import type { Logger } from "pino";
import type { TrustHttp } from "./trust-http";

export const BACKUP_ALGORITHM = "m.megolm_backup.v1.curve25519-aes-sha2";
export const BACKUP_STATUS_FILE = "backup-status.json";
const KEYS_BACKUP_REQUEST = 6; // RequestType.KeysBackup

interface DecryptionKey {
  megolmV1PublicKey: { publicKeyBase64: string };
  toBase64(): string;
  decryptV1(ephemeral: string, mac: string, ciphertext: string): string;
}

/** The crypto-wasm OlmMachine calls of key backup. */
export interface BackupMachine {
  sign(message: string): Promise<{ asJSON(): string }>;
  enableBackupV1(publicKeyBase64: string, version: string): Promise<void>;
  saveBackupDecryptionKey(key: DecryptionKey, version: string): Promise<void>;
  getBackupKeys(): Promise<{ decryptionKey?: DecryptionKey | undefined; backupVersion?: string | undefined }>;
  backupRoomKeys(): Promise<{ id: string; body: string; version: string; type: number } | undefined>;
  markRequestAsSent(id: string, type: number, response: string): Promise<unknown>;
  roomKeyCounts(): Promise<{ total: number; backedUp: number }>;
  importBackedUpRoomKeys(keys: Map<unknown, Map<string, unknown>>, progress: undefined, version: string): Promise<{ importedCount: number; totalCount: number }>;
}

interface WasmBackup {
  BackupDecryptionKey: { createRandomKey(): DecryptionKey; fromBase64(key: string): DecryptionKey };
  RoomId: new (id: string) => unknown;
}

function wasm(): WasmBackup {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require("@matrix-org/matrix-sdk-crypto-nodejs") as { wasm: () => WasmBackup }).wasm();
}

export class KeyBackupError extends Error {
  override readonly name = "KeyBackupError";
}

export interface BackupStatus {
  version: string;
  total: number;
  backedUp: number;
  updatedAt: string;
}

function fail(what: string, answer: { status: number; body: unknown }): KeyBackupError {
  const body = answer.body as { errcode?: unknown; error?: unknown } | undefined;
  return new KeyBackupError(`${what}: ${[answer.status, body?.errcode, body?.error].filter((p) => p !== undefined).join(" ")}`.slice(0, 300));
}

/** Makes a new backup version with a new key, signed by the device (and the master key when cross-signed). Returns the key to show. */
export async function createBackup(machine: BackupMachine, http: TrustHttp): Promise<{ version: string; backupKey: string }> {
  const key = wasm().BackupDecryptionKey.createRandomKey();
  const publicKey = key.megolmV1PublicKey.publicKeyBase64;
  const signatures = JSON.parse((await machine.sign(JSON.stringify({ public_key: publicKey }))).asJSON()) as unknown;
  const answer = await http.post("/_matrix/client/v3/room_keys/version", { algorithm: BACKUP_ALGORITHM, auth_data: { public_key: publicKey, signatures } });
  const version = (answer.body as { version?: unknown } | undefined)?.version;
  if (answer.status !== 200 || typeof version !== "string") throw fail("creating the key backup failed", answer);
  await machine.saveBackupDecryptionKey(key, version);
  await machine.enableBackupV1(publicKey, version);
  return { version, backupKey: key.toBase64() };
}

/** The server's current backup version, if any. */
export async function currentBackup(http: TrustHttp): Promise<{ version: string; publicKey: string | undefined; count: number } | undefined> {
  const answer = await http.get("/_matrix/client/v3/room_keys/version");
  if (answer.status === 404) return undefined;
  const body = answer.body as { version?: unknown; count?: unknown; auth_data?: { public_key?: unknown } } | undefined;
  if (answer.status !== 200 || typeof body?.version !== "string") throw fail("reading the key backup failed", answer);
  return { version: body.version, publicKey: typeof body.auth_data?.public_key === "string" ? body.auth_data.public_key : undefined,
    count: typeof body.count === "number" ? body.count : 0 };
}

/**
 * Downloads every backed-up room key of the current version, decrypts them with `backupKey` and imports them; then keeps
 * backing up to that version. Returns how many keys were imported.
 */
export async function restoreBackup(machine: BackupMachine, http: TrustHttp, backupKey: string): Promise<{ version: string; imported: number; total: number }> {
  let key: DecryptionKey;
  try {
    key = wasm().BackupDecryptionKey.fromBase64(backupKey.trim());
  } catch {
    throw new KeyBackupError("that is not a backup key (it is the base64 text `npm run crypto -- setup` showed)");
  }
  const backup = await currentBackup(http);
  if (!backup) throw new KeyBackupError("the homeserver has no key backup for this account");
  if (backup.publicKey !== key.megolmV1PublicKey.publicKeyBase64) throw new KeyBackupError(`the backup key does not open backup version ${backup.version}`);
  const answer = await http.get("/_matrix/client/v3/room_keys/keys", { version: backup.version });
  if (answer.status !== 200) throw fail("downloading the key backup failed", answer);
  const rooms = (answer.body as { rooms?: Record<string, { sessions?: Record<string, { session_data?: { ephemeral?: string; mac?: string; ciphertext?: string } }> }> } | undefined)?.rooms ?? {};
  const keys = new Map<unknown, Map<string, unknown>>();
  let undecryptable = 0;
  for (const [roomId, room] of Object.entries(rooms)) {
    const sessions = new Map<string, unknown>();
    for (const [sessionId, data] of Object.entries(room.sessions ?? {})) {
      const s = data.session_data;
      try {
        sessions.set(sessionId, JSON.parse(key.decryptV1(s?.ephemeral ?? "", s?.mac ?? "", s?.ciphertext ?? "")));
      } catch {
        undecryptable += 1;
      }
    }
    if (sessions.size > 0) keys.set(new (wasm().RoomId)(roomId), sessions);
  }
  const result = await machine.importBackedUpRoomKeys(keys, undefined, backup.version);
  await machine.saveBackupDecryptionKey(key, backup.version);
  await machine.enableBackupV1(key.megolmV1PublicKey.publicKeyBase64, backup.version);
  return { version: backup.version, imported: result.importedCount, total: result.totalCount + undecryptable };
}

/** Uploads room keys to the backup as they arrive (kick() after new keys), one pass at a time. */
export class KeyBackupUploader {
  private running: Promise<void> | undefined;
  private again = false;
  private enabledVersion: string | undefined;
  /** Room keys the device holds that are not in the backup yet, after the last pass. */
  lag = 0;

  constructor(private readonly machine: BackupMachine, private readonly http: TrustHttp, private readonly dir: string,
    private readonly log: Logger) {}

  /** Turns backing up on when the store holds a backup key for the server's current version. */
  async start(): Promise<void> {
    const stored = await this.machine.getBackupKeys();
    if (!stored.decryptionKey || stored.backupVersion === undefined) return;
    const server = await currentBackup(this.http);
    if (server?.version !== stored.backupVersion) {
      this.log.warn({ stored: stored.backupVersion, current: server?.version }, "key backup: the homeserver's backup is not the one this device backs up to; run `npm run crypto -- setup` to start a new one");
      return;
    }
    await this.machine.enableBackupV1(stored.decryptionKey.megolmV1PublicKey.publicKeyBase64, stored.backupVersion);
    this.enabledVersion = stored.backupVersion;
    this.kick();
  }

  get enabled(): boolean {
    return this.enabledVersion !== undefined;
  }

  /** Runs a backup pass soon (coalesced with one in progress). */
  kick(): void {
    if (this.enabledVersion === undefined) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass().catch((e: unknown) => this.log.warn({ error: String(e).slice(0, 300) }, "key backup pass failed; retried with the next room key"))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Waits for the pass in progress (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Uploads until nothing is left; the counts (and so the lag) are written down whether or not it succeeded. */
  private async pass(): Promise<void> {
    try {
      for (;;) {
        const request = await this.machine.backupRoomKeys();
        if (!request) break;
        const answer = await this.http.put("/_matrix/client/v3/room_keys/keys", JSON.parse(request.body), { version: request.version });
        if (answer.status !== 200) throw fail("uploading room keys to the backup failed", answer);
        await this.machine.markRequestAsSent(request.id, KEYS_BACKUP_REQUEST, JSON.stringify(answer.body ?? {}));
      }
    } finally {
      const counts = await this.machine.roomKeyCounts();
      this.lag = counts.total - counts.backedUp;
      await writeStatus(this.dir, { version: this.enabledVersion ?? "", total: counts.total, backedUp: counts.backedUp, updatedAt: new Date().toISOString() });
    }
  }
}

async function writeStatus(dir: string, status: BackupStatus): Promise<void> {
  const file = path.join(dir, BACKUP_STATUS_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, `${JSON.stringify(status)}\n`, { mode: 0o600 });
  await fs.rename(tmp, file);
}

/** The uploader's last state (doctor), or undefined when the bot never backed up. */
export async function readBackupStatus(dir: string): Promise<BackupStatus | undefined> {
  try {
    const parsed = JSON.parse(await fs.readFile(path.join(dir, BACKUP_STATUS_FILE), "utf8")) as Partial<BackupStatus>;
    if (typeof parsed.version !== "string" || typeof parsed.total !== "number" || typeof parsed.backedUp !== "number") return undefined;
    return { version: parsed.version, total: parsed.total, backedUp: parsed.backedUp, updatedAt: String(parsed.updatedAt ?? "") };
  } catch {
    return undefined;
  }
}
