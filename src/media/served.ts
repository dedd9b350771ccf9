// Attachments too large to travel inside a run frame are served by the bot itself: a one-time signed URL
// (GET /media?id=…&exp=…&sig=…, HMAC-SHA256 with a key that lives only in this process) valid for MEDIA_URL_TTL_MS,
// answered once and then gone; also gone when the turn is settled. The bytes stay in memory.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Logger } from "pino";
import { HttpError, type HttpReply, type HttpRequest } from "../http/request";
import type { PreparedMedia } from "./prepared";

export const MEDIA_PATH = "/media";

interface Offered {
  media: PreparedMedia;
  expiresAt: number;
  timer: NodeJS.Timeout;
}

export interface MediaUrlOptions {
  /** Where agents reach the bot's HTTP server (MEDIA_PUBLIC_URL, else HTTP_BIND's address); asked at each offer. */
  baseUrl: () => string;
  ttlMs: number;
  log: Logger;
}

export class MediaUrls {
  private readonly key = randomBytes(32);
  private readonly offered = new Map<string, Offered>();
  /** Successful fetches (tests and metrics). */
  fetched = 0;

  constructor(private readonly opts: MediaUrlOptions) {}

  /** A fresh one-time URL for `media`; it ends at expiry, on its first fetch, or when the media is released. */
  offer(media: PreparedMedia): string {
    const id = randomBytes(18).toString("base64url");
    const expiresAt = Date.now() + this.opts.ttlMs;
    const timer = setTimeout(() => this.offered.delete(id), this.opts.ttlMs);
    timer.unref();
    this.offered.set(id, { media, expiresAt, timer });
    media.onRelease(() => this.withdraw(id));
    const query = new URLSearchParams({ id, exp: String(expiresAt), sig: this.sign(id, expiresAt) });
    return `${this.opts.baseUrl()}${MEDIA_PATH}?${query.toString()}`;
  }

  /** URLs offered and not yet fetched, expired or withdrawn. */
  get pending(): number {
    return this.offered.size;
  }

  /** The route handler: the bytes once, then 410; a wrong signature 403. HEAD answers without using the URL up. */
  handle(request: HttpRequest): HttpReply {
    const id = request.query.get("id") ?? "";
    const exp = Number(request.query.get("exp"));
    const sig = request.query.get("sig") ?? "";
    if (!Number.isSafeInteger(exp) || !this.verify(id, exp, sig)) throw new HttpError(403, "forbidden", "this media link is not valid");
    const entry = this.offered.get(id);
    if (!entry || entry.expiresAt < Date.now()) throw new HttpError(410, "gone", "this media link was used or has expired");
    const { media } = entry;
    const headers = {
      "content-type": media.mimeType, "content-length": String(media.size), "x-content-type-options": "nosniff",
      "content-disposition": `attachment; filename*=UTF-8''${encodeURIComponent(media.filename)}`,
    };
    if (request.method === "HEAD") return { status: 200, headers };
    this.withdraw(id);
    this.fetched += 1;
    this.opts.log.debug({ size: media.size, kind: media.kind }, "an attachment was fetched by its one-time link");
    return { status: 200, body: media.bytes, headers };
  }

  close(): void {
    for (const id of [...this.offered.keys()]) this.withdraw(id);
  }

  private withdraw(id: string): void {
    const entry = this.offered.get(id);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.offered.delete(id);
  }

  private sign(id: string, exp: number): string {
    return createHmac("sha256", this.key).update(`${id}.${exp}`).digest("base64url");
  }

  private verify(id: string, exp: number, sig: string): boolean {
    const expected = Buffer.from(this.sign(id, exp));
    const given = Buffer.from(sig);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
