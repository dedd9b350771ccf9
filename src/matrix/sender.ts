// Sends room events with our own txnIds via PUT, so a retry (or a resend after a crash) is deduplicated by
// the homeserver. Retries 429 after retry_after_ms and 5xx/network errors with capped full-jitter backoff;
// 403/404/other 4xx are permanent; M_UNKNOWN_TOKEN stops all sending (one fatal line, no retry loop).
import type { Logger } from "pino";
import { MatrixRequestError } from "./errors";
import { enc, type MatrixHttp } from "./http";
import { fullJitterBackoff, sleep } from "../util/timers";

export type SendResult =
  | { ok: true; eventId: string; attempts: number }
  | { ok: false; error: MatrixRequestError; permanent: boolean; attempts: number };

/** What the rest of the bot needs to post into a room. */
export interface RoomMessageSender {
  sendEvent(roomId: string, type: string, content: Record<string, unknown>, txnId: string): Promise<SendResult>;
  setTyping(roomId: string, typing: boolean, timeoutMs: number): Promise<void>;
  sendReadReceipt(roomId: string, eventId: string): Promise<void>;
}

export interface SenderOptions {
  userId: string;
  retryBaseMs: number;
  retryMaxMs: number;
  maxAttempts: number;
  random?: () => number;
  /** Called once when the homeserver rejects our token; sending stops. */
  onTokenRejected: (error: MatrixRequestError) => void;
  /** Observes rate-limit waits (metrics, tests). */
  onRateLimited?: (waitMs: number) => void;
  /** Observes every retry, with the failure kind (metrics). */
  onRetry?: (reason: string) => void;
}

export class MatrixSender implements RoomMessageSender {
  private readonly stopping = new AbortController();
  private tokenRejected: MatrixRequestError | undefined;

  constructor(private readonly http: MatrixHttp, private readonly opts: SenderOptions, private readonly log: Logger) {}

  /** Ends every wait early; sends in progress return their last error. */
  stop(): void {
    this.stopping.abort();
  }

  get tokenValid(): boolean {
    return this.tokenRejected === undefined;
  }

  async sendEvent(roomId: string, type: string, content: Record<string, unknown>, txnId: string): Promise<SendResult> {
    const path = `/_matrix/client/v3/rooms/${enc(roomId)}/send/${enc(type)}/${enc(txnId)}`;
    let attempt = 0;
    for (;;) {
      attempt += 1;
      if (this.tokenRejected) return { ok: false, error: this.tokenRejected, permanent: true, attempts: attempt - 1 };
      try {
        const res = await this.http.request<{ event_id?: unknown }>("PUT", path, { body: content });
        const eventId = typeof res?.event_id === "string" ? res.event_id : "";
        return { ok: true, eventId, attempts: attempt };
      } catch (e) {
        const error = e instanceof MatrixRequestError ? e : new MatrixRequestError("network", undefined, undefined, String(e), undefined);
        if (error.kind === "unknown_token") {
          this.rejectToken(error);
          return { ok: false, error, permanent: true, attempts: attempt };
        }
        if (!error.transient) return { ok: false, error, permanent: true, attempts: attempt };
        if (attempt >= this.opts.maxAttempts || this.stopping.signal.aborted) {
          return { ok: false, error, permanent: false, attempts: attempt };
        }
        const waitMs = this.waitFor(error, attempt);
        this.log.warn({ roomId, txnId, attempt, waitMs, error: error.describe() }, "send failed, retrying");
        this.opts.onRetry?.(error.kind);
        if (error.kind === "rate_limited") this.opts.onRateLimited?.(waitMs);
        if (!(await sleep(waitMs, this.stopping.signal))) return { ok: false, error, permanent: false, attempts: attempt };
      }
    }
  }

  async setTyping(roomId: string, typing: boolean, timeoutMs: number): Promise<void> {
    if (this.tokenRejected) return;
    const path = `/_matrix/client/v3/rooms/${enc(roomId)}/typing/${enc(this.opts.userId)}`;
    await this.bestEffort("typing", roomId, () =>
      this.http.request("PUT", path, { body: typing ? { typing: true, timeout: timeoutMs } : { typing: false } }));
  }

  async sendReadReceipt(roomId: string, eventId: string): Promise<void> {
    if (this.tokenRejected) return;
    const path = `/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read/${enc(eventId)}`;
    await this.bestEffort("receipt", roomId, () => this.http.request("POST", path, { body: {} }));
  }

  /** Typing and receipts are cosmetic: one try, failures logged at debug, never thrown. */
  private async bestEffort(what: string, roomId: string, call: () => Promise<unknown>): Promise<void> {
    try {
      await call();
    } catch (e) {
      const error = e instanceof MatrixRequestError ? e : undefined;
      if (error?.kind === "unknown_token") this.rejectToken(error);
      else this.log.debug({ roomId, error: error?.describe() ?? String(e) }, `${what} not sent`);
    }
  }

  private waitFor(error: MatrixRequestError, attempt: number): number {
    if (error.kind === "rate_limited" && error.retryAfterMs !== undefined) {
      return Math.max(error.retryAfterMs, 0);
    }
    return Math.max(1, fullJitterBackoff(attempt, this.opts.retryBaseMs, this.opts.retryMaxMs, this.opts.random));
  }

  private rejectToken(error: MatrixRequestError): void {
    if (this.tokenRejected) return;
    this.tokenRejected = error;
    this.opts.onTokenRejected(error);
  }
}
