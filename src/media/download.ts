// Downloads media from the homeserver into memory, never to disk. Authenticated media (MSC3916, Matrix 1.11:
// GET /_matrix/client/v1/media/download/{serverName}/{mediaId} with the access token) when /versions advertises it
// (v1.11 or later, or unstable_features["org.matrix.msc3916.stable"]); otherwise, or when the server answers
// M_UNRECOGNIZED there (404; Synapse 1.67 says 400), the legacy unauthenticated /_matrix/media/v3/download (Synapse before 1.111 has only
// that). At most `maxBytes` are read: a larger Content-Length, or more bytes than that, aborts the request.
import type { Logger } from "pino";
import type { MxcUri } from "./attachment";

export type DownloadResult =
  | { ok: true; bytes: Buffer; contentType?: string }
  /** over_limit: more than `maxBytes` (by Content-Length or while reading); too_large: the homeserver's 413. */
  | { ok: false; reason: "over_limit" | "too_large" | "not_found" | "failed"; detail: string };

export interface DownloaderOptions {
  homeserverUrl: string;
  accessToken: string;
  /** One request's whole time, headers and body. */
  timeoutMs: number;
  log: Logger;
  /** Injected in tests; default the global fetch. */
  fetch?: typeof fetch;
}

const ERROR_BODY_LIMIT = 16 * 1024;

export class MediaDownloader {
  private authenticated: boolean | undefined;
  private readonly fetch: typeof fetch;

  constructor(private readonly opts: DownloaderOptions) {
    this.fetch = opts.fetch ?? globalThis.fetch;
  }

  /** Whether the homeserver serves authenticated media (asked once; a failed look-up is asked again next time). */
  async usesAuthenticatedMedia(signal?: AbortSignal): Promise<boolean> {
    if (this.authenticated !== undefined) return this.authenticated;
    try {
      const res = await this.fetch(`${this.opts.homeserverUrl}/_matrix/client/versions`, { signal: signal ?? null });
      const body = (await res.json()) as { versions?: unknown; unstable_features?: Record<string, unknown> };
      this.authenticated = advertisesAuthenticatedMedia(body);
      this.opts.log.info({ authenticatedMedia: this.authenticated }, "media endpoints of the homeserver chosen");
      return this.authenticated;
    } catch (e) {
      this.opts.log.warn({ err: String(e) }, "could not ask the homeserver which media endpoints it has; trying the legacy one");
      return false;
    }
  }

  async download(mxc: MxcUri, maxBytes: number, signal?: AbortSignal): Promise<DownloadResult> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error("timeout")), this.opts.timeoutMs);
    const onAbort = (): void => controller.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const path = `${encodeURIComponent(mxc.serverName)}/${encodeURIComponent(mxc.mediaId)}`;
      if (await this.usesAuthenticatedMedia(controller.signal)) {
        const res = await this.fetch(`${this.opts.homeserverUrl}/_matrix/client/v1/media/download/${path}`, {
          headers: { authorization: `Bearer ${this.opts.accessToken}` }, signal: controller.signal, redirect: "follow",
        });
        if (!(await isUnrecognized(res))) return await readBounded(res, maxBytes, controller);
        this.authenticated = false;
        this.opts.log.warn("the homeserver advertises authenticated media but does not serve it; using the legacy endpoint");
      }
      const res = await this.fetch(`${this.opts.homeserverUrl}/_matrix/media/v3/download/${path}`, {
        signal: controller.signal, redirect: "follow",
      });
      return await readBounded(res, maxBytes, controller);
    } catch (e) {
      const timedOut = controller.signal.reason instanceof Error && controller.signal.reason.message === "timeout";
      return { ok: false, reason: "failed", detail: timedOut ? `no answer within ${this.opts.timeoutMs} ms` : String(e) };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }
}

export function advertisesAuthenticatedMedia(body: { versions?: unknown; unstable_features?: Record<string, unknown> }): boolean {
  if (body.unstable_features?.["org.matrix.msc3916.stable"] === true) return true;
  if (!Array.isArray(body.versions)) return false;
  return body.versions.some((v) => {
    const match = typeof v === "string" ? /^v(\d+)\.(\d+)$/.exec(v) : null;
    return match !== null && (Number(match[1]) > 1 || (Number(match[1]) === 1 && Number(match[2]) >= 11));
  });
}

/** A server without the endpoint answers 404 (or 405/400) M_UNRECOGNIZED; the body is consumed only then. */
async function isUnrecognized(res: Response): Promise<boolean> {
  if (res.status !== 404 && res.status !== 405 && res.status !== 400) return false;
  const errcode = await errcodeOf(res);
  return errcode === "M_UNRECOGNIZED";
}

const errcodes = new WeakMap<Response, string | undefined>();

async function errcodeOf(res: Response): Promise<string | undefined> {
  if (errcodes.has(res)) return errcodes.get(res);
  let errcode: string | undefined;
  try {
    const text = new TextDecoder().decode(await readAtMost(res, ERROR_BODY_LIMIT));
    const parsed = JSON.parse(text) as { errcode?: unknown };
    errcode = typeof parsed.errcode === "string" ? parsed.errcode : undefined;
  } catch {
    errcode = undefined;
  }
  errcodes.set(res, errcode);
  return errcode;
}

async function readBounded(res: Response, maxBytes: number, controller: AbortController): Promise<DownloadResult> {
  if (!res.ok) {
    const errcode = await errcodeOf(res);
    controller.abort();
    if (res.status === 404) return { ok: false, reason: "not_found", detail: `404 ${errcode ?? ""}`.trim() };
    if (res.status === 413 || errcode === "M_TOO_LARGE") return { ok: false, reason: "too_large", detail: `${res.status} ${errcode ?? ""}`.trim() };
    return { ok: false, reason: "failed", detail: `${res.status} ${errcode ?? ""}`.trim() };
  }
  const declared = Number(res.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) {
    controller.abort();
    return { ok: false, reason: "over_limit", detail: `Content-Length ${declared} > ${maxBytes}` };
  }
  const bytes = await readAtMost(res, maxBytes);
  if (bytes === undefined) {
    controller.abort();
    return { ok: false, reason: "over_limit", detail: `more than ${maxBytes} bytes` };
  }
  const contentType = res.headers.get("content-type");
  return { ok: true, bytes, ...(contentType ? { contentType } : {}) };
}

/** The body, or undefined as soon as it exceeds `limit` (the stream is cancelled: no more is read). */
async function readAtMost(res: Response, limit: number): Promise<Buffer | undefined> {
  if (!res.body) return Buffer.alloc(0);
  const reader = res.body.getReader();
  const chunks: Buffer[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  }
  return Buffer.concat(chunks, size);
}
