import { parseMediaRef, parseMxc } from "../../../src/media/attachment";

const key = { kty: "oct", alg: "A256CTR", key_ops: ["encrypt", "decrypt"], k: Buffer.alloc(32, 7).toString("base64url"), ext: true };
const file = { url: "mxc://example.org/abc", key, iv: Buffer.alloc(16, 1).toString("base64").replace(/=+$/, ""),
  hashes: { sha256: Buffer.alloc(32, 2).toString("base64").replace(/=+$/, "") }, v: "v2" };

describe("media message content (m.image, m.file, m.audio, m.video)", () => {
  it("reads an unencrypted image: mxc, declared type and size, the body as its file name", () => {
    const parsed = parseMediaRef({ content: { msgtype: "m.image", body: "cat.png", url: "mxc://example.org/AbC_-1", info: { mimetype: "image/png", size: 1234 } } });
    expect(parsed).toEqual({ ok: true, ref: { msgtype: "m.image", voice: false, source: { kind: "plain", mxc: { serverName: "example.org", mediaId: "AbC_-1" } },
      filename: "cat.png", declaredMime: "image/png", declaredSize: 1234 } });
  });

  it("takes a body that differs from filename as the caption (MSC2530), and the same body as none", () => {
    const captioned = parseMediaRef({ content: { msgtype: "m.file", body: "the report, page 3", filename: "report.pdf", url: "mxc://a/b" } });
    expect(captioned).toMatchObject({ ok: true, ref: { filename: "report.pdf", caption: "the report, page 3" } });
    const plain = parseMediaRef({ content: { msgtype: "m.file", body: "report.pdf", filename: "report.pdf", url: "mxc://a/b" } });
    expect(plain).toMatchObject({ ok: true });
    expect(plain.ok ? plain.ref.caption : "not ok").toBeUndefined();
  });

  it("marks an MSC3245 voice message and reads an encrypted file's key, iv and hash", () => {
    const parsed = parseMediaRef({ content: { msgtype: "m.audio", body: "Voice message", file, "org.matrix.msc3245.voice": {} } });
    expect(parsed.ok).toBe(true);
    if (!parsed.ok || parsed.ref.source.kind !== "encrypted") throw new Error("expected an encrypted ref");
    expect(parsed.ref.voice).toBe(true);
    expect(parsed.ref.source.file.key.k).toEqual(Buffer.alloc(32, 7));
    expect(parsed.ref.source.file.iv).toEqual(Buffer.alloc(16, 1));
    expect(parsed.ref.source.mxc).toEqual({ serverName: "example.org", mediaId: "abc" });
  });

  it.each([
    ["no url and no file", { msgtype: "m.image", body: "x" }],
    ["a url that is not mxc", { msgtype: "m.image", body: "x", url: "https://evil.example/x.png" }],
    ["an mxc with a path", { msgtype: "m.image", body: "x", url: "mxc://example.org/../../etc" }],
    ["a url of the wrong type", { msgtype: "m.image", body: "x", url: 42 }],
    ["a short key", { msgtype: "m.file", body: "x", file: { ...file, key: { ...key, k: "AAAA" } } }],
    ["another algorithm", { msgtype: "m.file", body: "x", file: { ...file, key: { ...key, alg: "A128CTR" } } }],
    ["an iv that is not base64", { msgtype: "m.file", body: "x", file: { ...file, iv: "!!!" } }],
    ["no hash", { msgtype: "m.file", body: "x", file: { ...file, hashes: {} } }],
    ["version v1", { msgtype: "m.file", body: "x", file: { ...file, v: "v1" } }],
    ["a file that is a string", { msgtype: "m.file", body: "x", file: "mxc://a/b" }],
  ])("refuses %s", (_what, content) => {
    expect(parseMediaRef({ content })).toMatchObject({ ok: false, problem: expect.any(String) });
  });

  it("ignores declared values of the wrong type (the bytes decide) and info that is not an object fails", () => {
    const parsed = parseMediaRef({ content: { msgtype: "m.image", body: "x.png", url: "mxc://a/b", info: { mimetype: 5, size: "big" } } });
    expect(parsed).toMatchObject({ ok: true });
    expect(parsed.ok && parsed.ref.declaredSize).toBeUndefined();
    expect(parseMediaRef({ content: { msgtype: "m.image", body: "x.png", url: "mxc://a/b", info: "nope" } }).ok).toBe(false);
  });

  it("parses mxc URIs of the spec's grammar only", () => {
    expect(parseMxc("mxc://localhost:8448/abc")).toEqual({ serverName: "localhost:8448", mediaId: "abc" });
    expect(parseMxc("mxc://[::1]:8448/abc")).toEqual({ serverName: "[::1]:8448", mediaId: "abc" });
    expect(parseMxc("mxc://example.org/")).toBeUndefined();
    expect(parseMxc("mxc://example.org/a/b")).toBeUndefined();
    expect(parseMxc("mxc://example.org/a?b")).toBeUndefined();
  });
});
