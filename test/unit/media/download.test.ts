// MediaDownloader against the homeserver double: authenticated media when advertised, the legacy endpoint
// otherwise, and never more than the limit read.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { parseMxc } from "../../../src/media/attachment";
import { MediaDownloader, advertisesAuthenticatedMedia } from "../../../src/media/download";
import { startHomeserver, type Homeserver } from "../../support/homeserver";
import { pngImage } from "../../support/media-samples";

const log = pino({ level: "silent" });

describe("media downloads", () => {
  let hs: Homeserver;
  afterEach(() => hs?.close());

  const setUp = async (authenticatedMedia: boolean) => {
    hs = await startHomeserver({ authenticatedMedia });
    const bot = hs.addUser("bot");
    const downloader = new MediaDownloader({ homeserverUrl: hs.url, accessToken: bot.accessToken, timeoutMs: 10_000, log });
    return { bot, downloader };
  };
  const mediaPaths = () => hs.requests.filter((r) => r.path.includes("/download/")).map((r) => `${r.path.split("/download/")[0]} ${r.status}`);

  it("uses authenticated media with the token when the homeserver advertises v1.11", async () => {
    const { bot, downloader } = await setUp(true);
    const png = pngImage(3, 3);
    const mxc = parseMxc(hs.uploadMedia(bot.userId, png, "image/png"))!;
    expect(await downloader.download(mxc, 1_000_000)).toEqual({ ok: true, bytes: png, contentType: "image/png" });
    expect(mediaPaths()).toEqual(["/_matrix/client/v1/media 200"]);
  });

  it("uses the legacy endpoint on a homeserver without authenticated media (Synapse 1.67)", async () => {
    const { bot, downloader } = await setUp(false);
    const mxc = parseMxc(hs.uploadMedia(bot.userId, Buffer.from("old"), "text/plain"))!;
    expect(await downloader.download(mxc, 100)).toMatchObject({ ok: true, bytes: Buffer.from("old") });
    expect(mediaPaths()).toEqual(["/_matrix/media/v3 200"]);
  });

  // Synapse 1.67 answers an unknown /_matrix/client/v1 path with 400 M_UNRECOGNIZED (seen on the real one), others 404.
  it.each([404, 400])("falls back to the legacy endpoint, for good, when the advertised one answers %i M_UNRECOGNIZED", async (status) => {
    const { bot, downloader } = await setUp(true);
    const mxc = parseMxc(hs.uploadMedia(bot.userId, Buffer.from("via legacy"), "text/plain"))!;
    hs.failNext({ pathIncludes: "/_matrix/client/v1/media/download/" }, { status, errcode: "M_UNRECOGNIZED", error: "Unrecognized request" });
    expect(await downloader.download(mxc, 100)).toMatchObject({ ok: true, bytes: Buffer.from("via legacy") });
    expect(await downloader.download(mxc, 100)).toMatchObject({ ok: true });
    expect(mediaPaths()).toEqual([`/_matrix/client/v1/media ${status}`, "/_matrix/media/v3 200", "/_matrix/media/v3 200"]);
  });

  it("stops before the body when Content-Length is above the limit, and says 404 for unknown media", async () => {
    const { bot, downloader } = await setUp(true);
    const mxcUri = hs.uploadMedia(bot.userId, Buffer.alloc(8 * 1024 * 1024, 1), "application/octet-stream");
    expect(await downloader.download(parseMxc(mxcUri)!, 1024)).toMatchObject({ ok: false, reason: "over_limit" });
    const served = await hs.waitFor(() => { const m = hs.mediaServed(mxcUri); return m.abandoned === 1 && m; }, { what: "the download to be abandoned" });
    expect(served.bytesSent).toBeLessThan(8 * 1024 * 1024);
    expect(await downloader.download({ serverName: "localhost", mediaId: "nope" }, 1024)).toMatchObject({ ok: false, reason: "not_found" });
  });

  it("stops reading a body without Content-Length at the limit", async () => {
    let written = 0;
    let closed!: () => void;
    const gone = new Promise<void>((r) => (closed = r));
    const server = http.createServer((req, res) => {
      if (req.url?.endsWith("/versions")) return void res.end(JSON.stringify({ versions: ["v1.5"] }));
      res.writeHead(200, { "content-type": "application/octet-stream" });
      const pump = (): void => {
        while (!res.destroyed && written < 64 * 1024 * 1024) {
          written += 16 * 1024;
          if (!res.write(Buffer.alloc(16 * 1024))) return void res.once("drain", pump);
        }
        res.end();
      };
      res.on("close", closed);
      pump();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const downloader = new MediaDownloader({ homeserverUrl: url, accessToken: "t", timeoutMs: 10_000, log });
      expect(await downloader.download({ serverName: "x", mediaId: "y" }, 100_000)).toMatchObject({ ok: false, reason: "over_limit" });
      await gone;
      expect(written).toBeLessThan(64 * 1024 * 1024);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it("reads the advertisement from /versions: v1.11 or later, or the MSC3916 stable flag", () => {
    expect(advertisesAuthenticatedMedia({ versions: ["v1.10"] })).toBe(false);
    expect(advertisesAuthenticatedMedia({ versions: ["v1.10", "v1.11"] })).toBe(true);
    expect(advertisesAuthenticatedMedia({ versions: ["v1.12"] })).toBe(true);
    expect(advertisesAuthenticatedMedia({ versions: ["r0.6.1"], unstable_features: { "org.matrix.msc3916.stable": true } })).toBe(true);
    expect(advertisesAuthenticatedMedia({ versions: "v1.11" })).toBe(false);
  });
});
