// The crypto store's snapshot file: v8-serialized (structured clone), encrypted with AES-256-GCM under a key
// derived from CRYPTO_PASSPHRASE with scrypt (fresh salt and IV per write), written atomically (temp file,
// fsync, rename, fsync of the directory): a crash leaves either the old or the new snapshot, never a torn one.
import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCb, type ScryptOptions } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { deserialize, serialize } from "node:v8";
import type { IdbSnapshot } from "./idb-snapshot";

const MAGIC = Buffer.from("MAB-CRYPTO-SNAPSHOT\u0001", "latin1");
const SALT = 16;
const IV = 12;
const TAG = 16;
/** scrypt cost: N=2^15, r=8 (32 MiB, tens of ms): paid once per write and once at start. */
const SCRYPT: ScryptOptions = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

export class SnapshotFileError extends Error {
  constructor(readonly logText: string, readonly userText: string) {
    super(logText);
    this.name = "SnapshotFileError";
  }
}

function scrypt(passphrase: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(passphrase, salt, 32, SCRYPT, (err, key) => (err ? reject(err) : resolve(key))));
}

export async function encodeSnapshot(snapshot: IdbSnapshot, passphrase: string): Promise<Buffer> {
  const salt = randomBytes(SALT);
  const iv = randomBytes(IV);
  const key = await scrypt(passphrase, salt);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(MAGIC);
  const body = Buffer.concat([cipher.update(serialize(snapshot)), cipher.final()]);
  return Buffer.concat([MAGIC, salt, iv, cipher.getAuthTag(), body]);
}

export async function decodeSnapshot(data: Buffer, passphrase: string): Promise<IdbSnapshot> {
  if (data.length < MAGIC.length + SALT + IV + TAG || !data.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new SnapshotFileError("crypto store snapshot: not a snapshot file (bad header)",
      "The encryption store file is damaged.");
  }
  let at = MAGIC.length;
  const salt = data.subarray(at, (at += SALT));
  const iv = data.subarray(at, (at += IV));
  const tag = data.subarray(at, (at += TAG));
  const key = await scrypt(passphrase, salt);
  const decipher = createDecipheriv("aes-256-gcm", key, iv);
  decipher.setAAD(MAGIC);
  decipher.setAuthTag(tag);
  let plain: Buffer;
  try {
    plain = Buffer.concat([decipher.update(data.subarray(at)), decipher.final()]);
  } catch {
    throw new SnapshotFileError("crypto store snapshot: authentication failed (wrong CRYPTO_PASSPHRASE or damaged file)",
      "The encryption store cannot be opened: CRYPTO_PASSPHRASE is wrong or the file is damaged.");
  }
  const snapshot = deserialize(plain) as IdbSnapshot;
  if (snapshot?.format !== 1 || !Array.isArray(snapshot.databases)) {
    throw new SnapshotFileError("crypto store snapshot: unknown format", "The encryption store file has an unknown format.");
  }
  return snapshot;
}

/** Reads and decrypts the snapshot; undefined when there is none yet. */
export async function readSnapshotFile(file: string, passphrase: string): Promise<IdbSnapshot | undefined> {
  let data: Buffer;
  try {
    data = await fs.readFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  return decodeSnapshot(data, passphrase);
}

/** Writes atomically: temp file in the same directory, fsync, rename over the old one, fsync the directory. */
export async function writeSnapshotFile(file: string, snapshot: IdbSnapshot, passphrase: string): Promise<number> {
  const data = await encodeSnapshot(snapshot, passphrase);
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  const handle = await fs.open(tmp, "w", 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, file);
  try {
    const d = await fs.open(dir, "r");
    try { await d.sync(); } finally { await d.close(); }
  } catch {
    // Some filesystems refuse fsync on a directory; the rename itself is atomic.
  }
  return data.length;
}
