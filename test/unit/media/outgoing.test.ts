// The agent's files at the edge (CUSTOM matrix.attachment values) and their encryption for encrypted rooms,
// checked against Element's matrix-encrypt-attachment (an independent implementation of the spec).
import { decryptAttachment as elementDecrypt } from "matrix-encrypt-attachment";
import { encryptAttachment } from "../../../src/media/encrypt";
import { parseAttachmentValue } from "../../../src/media/outgoing";

describe("matrix.attachment values", () => {
  it("accepts a file name, a MIME type and base64 bytes", () => {
    const parsed = parseAttachmentValue({ mimeType: "Image/PNG", filename: "chart.png", data: Buffer.from("abc").toString("base64") });
    expect(parsed).toEqual({ ok: true, attachment: { mimeType: "image/png", filename: "chart.png", bytes: Buffer.from("abc") } });
  });

  it.each([
    ["a URL instead of data", { mimeType: "image/png", filename: "x.png", url: "https://example.org/x.png" }, /data/],
    ["data that is not base64", { mimeType: "image/png", filename: "x.png", data: "not base64!" }, /base64/],
    ["no file name", { mimeType: "image/png", filename: " ", data: "YQ==" }, /filename/],
    ["a MIME type that is not one", { mimeType: "png", filename: "x.png", data: "YQ==" }, /mimeType/],
    ["no value at all", undefined, /value|expected/],
  ])("refuses %s, naming the problem", (_what, value, problem) => {
    const parsed = parseAttachmentValue(value);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.problem).toMatch(problem);
  });

  it("keeps path separators and control characters out of the file name", () => {
    const parsed = parseAttachmentValue({ mimeType: "text/plain", filename: "../etc/pass\nwd", data: "YQ==" });
    expect(parsed.ok && parsed.attachment.filename).toBe(".._etc_pass_wd");
  });
});

describe("encrypting an attachment", () => {
  it("gives ciphertext that Element's implementation decrypts to the same bytes", async () => {
    const plain = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
    const { ciphertext, file } = encryptAttachment(plain);
    expect(ciphertext.equals(plain)).toBe(false);
    expect(file).toMatchObject({ v: "v2", key: { kty: "oct", alg: "A256CTR", ext: true }, iv: expect.stringMatching(/^[A-Za-z0-9+/]{22}$/) });
    const ab = ciphertext.buffer.slice(ciphertext.byteOffset, ciphertext.byteOffset + ciphertext.length);
    const back = Buffer.from(await elementDecrypt(ab as ArrayBuffer, file));
    expect(back.equals(plain)).toBe(true);
  });
});
