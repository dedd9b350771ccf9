// Contract: the media repository, as Synapse serves it (legacy download, authenticated media per MSC3916 / Matrix
// 1.11, upload), over real HTTP.
import { startHomeserver, type Homeserver } from "../../support/homeserver";
import { pngImage } from "../../support/media-samples";

describe("homeserver double: media repository", () => {
  let hs: Homeserver;
  let token: string;
  let userId: string;

  beforeEach(async () => {
    hs = await startHomeserver({ maxUploadBytes: 4096 });
    ({ accessToken: token, userId } = hs.addUser("alice"));
  });
  afterEach(() => hs.close());

  const upload = (body: Buffer, headers: Record<string, string> = {}, query = "") =>
    fetch(`${hs.url}/_matrix/media/v3/upload${query}`, { method: "POST", body, headers: { "content-type": "image/png", ...headers } });

  it("uploads with a token (401 M_MISSING_TOKEN without) and returns an mxc URI of this server", async () => {
    const png = pngImage(2, 2);
    const refused = await upload(png);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ errcode: "M_MISSING_TOKEN" });
    const res = await upload(png, { authorization: `Bearer ${token}` }, "?filename=cat.png");
    expect(res.status).toBe(200);
    const { content_uri: mxc } = (await res.json()) as { content_uri: string };
    expect(mxc).toMatch(/^mxc:\/\/localhost\/[A-Za-z0-9_-]+$/);
    const legacy = await fetch(`${hs.url}/_matrix/media/v3/download/${mxc.slice(6)}`);
    expect(legacy.status).toBe(200);
    expect(legacy.headers.get("content-type")).toBe("image/png");
    expect(legacy.headers.get("content-disposition")).toBe("attachment; filename*=utf-8''cat.png");
    expect(Buffer.from(await legacy.arrayBuffer())).toEqual(png);
  });

  it("refuses an upload above its limit with 413 M_TOO_LARGE", async () => {
    const res = await upload(Buffer.alloc(5000), { authorization: `Bearer ${token}` });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ errcode: "M_TOO_LARGE" });
  });

  it("serves authenticated downloads only with a token (401 M_MISSING_TOKEN) and advertises v1.11", async () => {
    const mxc = hs.uploadMedia(userId, Buffer.from("hello"), "text/plain", "hi.txt");
    const path = `/_matrix/client/v1/media/download/${mxc.slice(6)}`;
    const missing = await fetch(`${hs.url}${path}`);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ errcode: "M_MISSING_TOKEN" });
    const ok = await fetch(`${hs.url}${path}/other-name.txt`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-disposition")).toBe("attachment; filename*=utf-8''other-name.txt");
    expect(await ok.text()).toBe("hello");
    expect(hs.mediaServed(mxc)).toEqual({ downloads: 1, abandoned: 0, bytesSent: 5 });
    const versions = (await (await fetch(`${hs.url}/_matrix/client/versions`)).json()) as { versions: string[] };
    expect(versions.versions).toContain("v1.11");
  });

  it("answers 404 M_NOT_FOUND for unknown media, and for media of another server", async () => {
    for (const path of ["_matrix/media/v3/download/localhost/nope", "_matrix/media/v3/download/other.example/abc"]) {
      const res = await fetch(`${hs.url}/${path}`);
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ errcode: "M_NOT_FOUND" });
    }
  });

  it("without authenticated media: no v1.11 in /versions and 404 M_UNRECOGNIZED on the v1 endpoints, as Synapse 1.67", async () => {
    const old = await startHomeserver({ authenticatedMedia: false });
    try {
      const versions = (await (await fetch(`${old.url}/_matrix/client/versions`)).json()) as { versions: string[] };
      expect(versions.versions).not.toContain("v1.11");
      expect(versions.versions).toContain("v1.10");
      const creds = old.addUser("bob");
      const mxc = old.uploadMedia(creds.userId, Buffer.from("x"), "text/plain");
      const res = await fetch(`${old.url}/_matrix/client/v1/media/download/${mxc.slice(6)}`, { headers: { authorization: `Bearer ${creds.accessToken}` } });
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ errcode: "M_UNRECOGNIZED" });
      expect((await fetch(`${old.url}/_matrix/media/v3/download/${mxc.slice(6)}`)).status).toBe(200);
    } finally {
      await old.close();
    }
  });

  it("stops writing when the client goes away, and counts only what went out", async () => {
    const big = Buffer.alloc(32 * 1024 * 1024, 7);
    const mxc = hs.uploadMedia(userId, big, "application/octet-stream");
    const controller = new AbortController();
    const res = await fetch(`${hs.url}/_matrix/media/v3/download/${mxc.slice(6)}`, { signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    const served = await hs.waitFor(() => { const m = hs.mediaServed(mxc); return m.abandoned === 1 && m; }, { what: "the download to be abandoned" });
    expect(served.downloads).toBe(0);
    expect(served.bytesSent).toBeLessThan(big.length);
  });
});
