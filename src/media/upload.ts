// Uploads bytes to the homeserver's media repository (POST /_matrix/media/v3/upload, the one upload endpoint from
// Synapse 1.67 to today) with the bot's token; returns the mxc URI. 429 (after retry_after_ms) and 5xx or network
// failures are tried again with capped full-jitter backoff, up to `maxAttempts`; 413 M_TOO_LARGE and other 4xx are
// final. The bytes are never logged.
import type { Logger } from "pino";
import { z } from "zod";
import { parseMxc } from "./attachment";
import { fullJitterBackoff, sleep } from "../util/timers";

export interface UploaderOptions {
  homeserverUrl: string;
  accessToken: string;
  /** One request's whole time. */
  timeoutMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  log: Logger;
  /** Injected in tests; default the global fetch. */
  fetch?: typeof fetch;
}

export type UploadResult = { ok: true; mxc: string } | { ok: false; detail: string; tooLarge: boolean };

const UploadAnswerSchema = z.object({ content_uri: z.string().refine((v) => parseMxc(v) !== undefined, "is not an mxc:// URI") });
const ErrorSchema = z.looseObject({ errcode: z.string().optional(), retry_after_ms: z.number().optional() });

export class MediaUploader {
  private readonly fetch: typeof fetch;

  constructor(private readonly opts: UploaderOptions) {
    this.fetch = opts.fetch ?? globalThis.fetch;
  }

  async upload(bytes: Buffer, contentType: string, filename: string, signal?: AbortSignal): Promise<UploadResult> {
    const url = `${this.opts.homeserverUrl}/_matrix/media/v3/upload?filename=${encodeURIComponent(filename)}`;
    for (let attempt = 1; ; attempt++) {
      let detail: string;
      let waitMs: number | undefined;
      try {
        const res = await this.fetch(url, {
          method: "POST", body: bytes, signal: AbortSignal.any([AbortSignal.timeout(this.opts.timeoutMs), ...(signal ? [signal] : [])]),
          headers: { authorization: `Bearer ${this.opts.accessToken}`, "content-type": contentType },
        });
        const body: unknown = await res.json().catch(() => undefined);
        if (res.ok) {
          const answer = UploadAnswerSchema.safeParse(body);
          if (answer.success) return { ok: true, mxc: answer.data.content_uri };
          return { ok: false, detail: `the homeserver's answer has no valid content_uri`, tooLarge: false };
        }
        const error = ErrorSchema.safeParse(body);
        const errcode = error.success ? error.data.errcode : undefined;
        detail = `${res.status} ${errcode ?? ""}`.trim();
        if (res.status === 413 || errcode === "M_TOO_LARGE") return { ok: false, detail, tooLarge: true };
        if (res.status === 429) waitMs = (error.success ? error.data.retry_after_ms : undefined) ?? this.opts.retryBaseMs;
        else if (res.status < 500) return { ok: false, detail, tooLarge: false };
      } catch (e) {
        detail = String(e);
        if (signal?.aborted) return { ok: false, detail, tooLarge: false };
      }
      if (attempt >= this.opts.maxAttempts) return { ok: false, detail, tooLarge: false };
      const wait = waitMs ?? Math.max(1, fullJitterBackoff(attempt, this.opts.retryBaseMs, this.opts.retryMaxMs));
      this.opts.log.warn({ attempt, waitMs: wait, detail }, "upload failed, retrying");
      if (!(await sleep(wait, signal))) return { ok: false, detail, tooLarge: false };
    }
  }
}
