// Our node:crypto decryption against Element's matrix-encrypt-attachment (the encrypting side) and WebCrypto's
// AES-CTR with a 64-bit counter, as senders use it.
import { createHash, webcrypto } from "node:crypto";
import { encryptAttachment } from "matrix-encrypt-attachment";
import { EncryptedFileSchema } from "../../../src/media/attachment";
import { decryptAttachment } from "../../../src/media/encrypted-file";
import { pngImage } from "../../support/media-samples";

async function encryptedWithElementsLibrary(plain: Buffer) {
  const { data, info } = await encryptAttachment(plain.buffer.slice(plain.byteOffset, plain.byteOffset + plain.length) as ArrayBuffer);
  const file = EncryptedFileSchema.parse({ ...info, url: "mxc://example.org/x" });
  return { ciphertext: Buffer.from(data), file };
}

describe("encrypted attachments (AES-256-CTR, SHA-256 of the ciphertext)", () => {
  it("decrypts what Element's library encrypted to the same bytes", async () => {
    const plain = pngImage(40, 40);
    const { ciphertext, file } = await encryptedWithElementsLibrary(plain);
    expect(ciphertext.equals(plain)).toBe(false);
    expect(decryptAttachment(ciphertext, file)).toEqual({ ok: true, bytes: plain });
  });

  it("refuses a ciphertext with one bit changed, without decrypting it", async () => {
    const { ciphertext, file } = await encryptedWithElementsLibrary(pngImage(8, 8));
    ciphertext[ciphertext.length >> 1] = (ciphertext[ciphertext.length >> 1] ?? 0) ^ 1;
    expect(decryptAttachment(ciphertext, file)).toEqual({ ok: false, reason: "hash_mismatch" });
  });

  it("wraps the counter as WebCrypto's 64-bit AES-CTR does when the iv's counter half is near its end", async () => {
    const plain = Buffer.from(Array.from({ length: 100 }, (_, i) => i));
    const keyBytes = Buffer.alloc(32, 9);
    const iv = Buffer.concat([Buffer.alloc(8, 0xab), Buffer.from("fffffffffffffffe", "hex")]); // wraps after 2 blocks
    const key = await webcrypto.subtle.importKey("raw", keyBytes, "AES-CTR", false, ["encrypt"]);
    const ciphertext = Buffer.from(await webcrypto.subtle.encrypt({ name: "AES-CTR", counter: iv, length: 64 }, key, plain));
    const sha256 = createHash("sha256").update(ciphertext).digest();
    const result = decryptAttachment(ciphertext, { key: { kty: "oct", alg: "A256CTR", key_ops: ["decrypt"], k: keyBytes, ext: true }, iv, hashes: { sha256 } });
    expect(result).toEqual({ ok: true, bytes: plain });
  });
});
