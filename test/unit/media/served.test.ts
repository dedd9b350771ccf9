import type { HttpRequest } from "../../../src/http/request";
import { HttpError } from "../../../src/http/request";
import { PreparedMedia } from "../../../src/media/prepared";
import { MediaUrls } from "../../../src/media/served";
import pino from "pino";

const silent = pino({ level: "silent" });

function get(url: string, method = "GET"): HttpRequest {
  const parsed = new URL(url);
  return { method, path: parsed.pathname, query: parsed.searchParams } as unknown as HttpRequest;
}

function statusOf(fn: () => unknown): number | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return e instanceof HttpError ? e.status : -1;
  }
}

const media = (): PreparedMedia => new PreparedMedia(Buffer.from("png bytes"), "image/png", "image", "cat.png", false);

describe("one-time signed attachment URLs", () => {
  const urls = new MediaUrls({ baseUrl: () => "http://127.0.0.1:8080", ttlMs: 60_000, log: silent });
  afterAll(() => urls.close());

  it("serves the bytes once with their type, then answers 410", () => {
    const url = urls.offer(media());
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:8080\/media\?id=[\w-]+&exp=\d+&sig=[\w-]+$/);
    expect(urls.handle(get(url, "HEAD"))).toMatchObject({ status: 200, headers: { "content-type": "image/png", "content-length": "9" } });
    const reply = urls.handle(get(url));
    expect(reply).toMatchObject({ status: 200, body: Buffer.from("png bytes"), headers: { "content-type": "image/png" } });
    expect(statusOf(() => urls.handle(get(url)))).toBe(410);
  });

  it("refuses a changed id, expiry or signature with 403", () => {
    const url = new URL(urls.offer(media()));
    for (const [name, value] of [["id", "other"], ["exp", String(Date.now() + 10 ** 9)], ["sig", "AAAA"]] as const) {
      const forged = new URL(url);
      forged.searchParams.set(name, value);
      expect(statusOf(() => urls.handle(get(forged.toString())))).toBe(403);
    }
    expect(statusOf(() => urls.handle(get(url.toString())))).toBeUndefined();
  });

  it("ends a URL when its turn is settled, and when it expires", async () => {
    const m = media();
    const url = urls.offer(m);
    m.release();
    expect(statusOf(() => urls.handle(get(url)))).toBe(410);
    const short = new MediaUrls({ baseUrl: () => "http://x", ttlMs: 1, log: silent });
    const expiring = short.offer(media());
    await new Promise((r) => setTimeout(r, 20));
    expect(statusOf(() => short.handle(get(expiring)))).toBe(410);
    expect(short.pending).toBe(0);
  });
});
