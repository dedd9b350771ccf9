// Encrypting an attachment for an encrypted room (spec: "Sending encrypted attachments"): a fresh AES-256-CTR key
// and a 16-byte counter block whose last 8 bytes are zero (the 64-bit counter cannot wrap), the SHA-256 of the
// ciphertext; the `file` object is the spec's EncryptedFile once the ciphertext's mxc URI is known.
import { createCipheriv, createHash, randomBytes } from "node:crypto";

export interface EncryptedUpload {
  ciphertext: Buffer;
  /** The EncryptedFile without its `url`. */
  file: { v: "v2"; key: { kty: "oct"; alg: "A256CTR"; ext: true; key_ops: string[]; k: string }; iv: string; hashes: { sha256: string } };
}

const unpadded = (b: Buffer): string => b.toString("base64").replace(/=+$/, "");

export function encryptAttachment(plain: Buffer): EncryptedUpload {
  const key = randomBytes(32);
  const iv = Buffer.concat([randomBytes(8), Buffer.alloc(8)]);
  const cipher = createCipheriv("aes-256-ctr", key, iv);
  const ciphertext = Buffer.concat([cipher.update(plain), cipher.final()]);
  return {
    ciphertext,
    file: {
      v: "v2",
      key: { kty: "oct", alg: "A256CTR", ext: true, key_ops: ["encrypt", "decrypt"], k: key.toString("base64url") },
      iv: unpadded(iv),
      hashes: { sha256: unpadded(createHash("sha256").update(ciphertext).digest()) },
    },
  };
}
