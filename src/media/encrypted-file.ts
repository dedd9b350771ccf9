// Encrypted attachments (spec: "Sending encrypted attachments"): the SHA-256 of the ciphertext is checked first, then
// the bytes are decrypted with AES-256-CTR (node:crypto). Senders use WebCrypto's AES-CTR with a 64-bit counter
// (the iv's last 8 bytes), which wraps to zero without carrying into the first 8; node's aes-256-ctr carries, so a
// file whose counter would wrap is decrypted in two pieces.
import { createDecipheriv, createHash, timingSafeEqual } from "node:crypto";
import type { EncryptedFileInfo } from "./attachment";

export type DecryptResult = { ok: true; bytes: Buffer } | { ok: false; reason: "hash_mismatch" };

const BLOCK = 16n;
const COUNTER_SPACE = 1n << 64n;

export function decryptAttachment(ciphertext: Buffer, file: Pick<EncryptedFileInfo, "key" | "iv" | "hashes">): DecryptResult {
  const digest = createHash("sha256").update(ciphertext).digest();
  if (!timingSafeEqual(digest, file.hashes.sha256)) return { ok: false, reason: "hash_mismatch" };
  const key = file.key.k;
  const iv = file.iv;
  const blocksToWrap = COUNTER_SPACE - iv.readBigUInt64BE(8);
  const bytesToWrap = blocksToWrap * BLOCK;
  if (BigInt(ciphertext.length) <= bytesToWrap) return { ok: true, bytes: ctr(key, iv, ciphertext) };
  const split = Number(bytesToWrap);
  const wrapped = Buffer.from(iv);
  wrapped.fill(0, 8);
  return { ok: true, bytes: Buffer.concat([ctr(key, iv, ciphertext.subarray(0, split)), ctr(key, wrapped, ciphertext.subarray(split))]) };
}

function ctr(key: Buffer, iv: Buffer, data: Buffer): Buffer {
  const decipher = createDecipheriv("aes-256-ctr", key, iv);
  return Buffer.concat([decipher.update(data), decipher.final()]);
}
