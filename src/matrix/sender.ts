// Sends room events with our own txnIds via PUT, so a retry (or a resend after a crash) is deduplicated by
// the homeserver. Retries 429 after retry_after_ms and 5xx/network errors with capped full-jitter backoff;
// 403/404/other 4xx are permanent; M_UNKNOWN_TOKEN stops all sending (one fatal line, no retry loop).
// A 429 is the homeserver pacing us, not a failure: it does not use up maxAttempts (under sustained rate
// limiting a message would otherwise be dropped); rateLimitMaxWaitMs bounds the time spent waiting on them.
import type { Logger } from "pino";
import { MatrixRequestError } from "./errors";
import { enc, type MatrixHttp } from "./http";
import { fullJitterBackoff, sleep } from "../util/timers";

/** Sent through sendEvent with content `{ redacts: <event id>, reason? }`: a redaction of that event. */
export const REDACTION_TYPE = "m.room.redaction";

export type SendResult =
  | { ok: true; eventId: string; attempts: number }
  | { ok: false; error: MatrixRequestError; permanent: boolean; attempts: number };

/** What the rest of the bot needs to post into a room. */
export interface RoomMessageSender {
  /** `asUser` (appservice mode): a user of the appservice's namespace the event is sent as (identity assertion). */
  sendEvent(roomId: string, type: string, content: Record<string, unknown>, txnId: string, asUser?: string): Promise<SendResult>;
  setTyping(roomId: string, typing: boolean, timeoutMs: number, asUser?: string): Promise<void>;
  sendReadReceipt(roomId: string, eventId: string): Promise<void>;
}

export interface SenderOptions {
  userId: string;
  retryBaseMs: number;
  retryMaxMs: number;
  maxAttempts: number;
  random?: () => number;
  /** Longest total wait on 429s (retry_after_ms) for one message before it fails. Default 15 minutes. */
  rateLimitMaxWaitMs?: number;
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

  /**
   * Sends a room event. An `m.room.redaction` (content `{ redacts, reason? }`) goes to the redact endpoint, the same
   * way: our txnId, the same retries. With `asUser` the appservice sends as that user (`user_id`, identity assertion)
   * under a txnId that names the user: Synapse keys an appservice's txnIds on its one token, whoever it sends as.
   */
  async sendEvent(roomId: string, type: string, content: Record<string, unknown>, txnId: string, asUser?: string): Promise<SendResult> {
    const redacts = type === REDACTION_TYPE && typeof content["redacts"] === "string" ? content["redacts"] : undefined;
    const wireTxnId = asUser === undefined ? txnId : `${txnId}~${asUser}`;
    const path = redacts === undefined ? `/_matrix/client/v3/rooms/${enc(roomId)}/send/${enc(type)}/${enc(wireTxnId)}`
      : `/_matrix/client/v3/rooms/${enc(roomId)}/redact/${enc(redacts)}/${enc(wireTxnId)}`;
    const query = asUser === undefined ? undefined : { user_id: asUser };
    const body = redacts === undefined ? content : (typeof content["reason"] === "string" ? { reason: content["reason"] } : {});
    let attempt = 0; // requests made
    let failures = 0; // failed attempts that count against maxAttempts (429s do not)
    let rateLimitedMs = 0;
    const rateLimitMaxWaitMs = this.opts.rateLimitMaxWaitMs ?? 15 * 60_000;
    for (;;) {
      attempt += 1;
      if (this.tokenRejected) return { ok: false, error: this.tokenRejected, permanent: true, attempts: attempt - 1 };
      try {
        const res = await this.http.request<{ event_id?: unknown }>("PUT", path, { body, ...(query ? { query } : {}) });
        const eventId = typeof res?.event_id === "string" ? res.event_id : "";
        return { ok: true, eventId, attempts: attempt };
      } catch (e) {
        const error = e instanceof MatrixRequestError ? e : new MatrixRequestError("network", undefined, undefined, String(e), undefined);
        if (error.kind === "unknown_token") {
          this.rejectToken(error);
          return { ok: false, error, permanent: true, attempts: attempt };
        }
        // A reaction the homeserver already has (sent again after a crash under another txnId) is delivered.
        if (type === "m.reaction" && isDuplicateAnnotation(error)) return { ok: true, eventId: "", attempts: attempt };
        if (!error.transient) return { ok: false, error, permanent: true, attempts: attempt };
        const limited = error.kind === "rate_limited";
        if (!limited) failures += 1;
        const waitMs = this.waitFor(error, limited ? attempt : failures);
        const exhausted = limited ? rateLimitedMs + waitMs > rateLimitMaxWaitMs : failures >= this.opts.maxAttempts;
        if (exhausted || this.stopping.signal.aborted) return { ok: false, error, permanent: false, attempts: attempt };
        if (limited) rateLimitedMs += waitMs;
        this.log.warn({ roomId, txnId, attempt, waitMs, error: error.describe() }, "send failed, retrying");
        this.opts.onRetry?.(error.kind);
        if (limited) this.opts.onRateLimited?.(waitMs);
        if (!(await sleep(waitMs, this.stopping.signal))) return { ok: false, error, permanent: false, attempts: attempt };
      }
    }
  }

  async setTyping(roomId: string, typing: boolean, timeoutMs: number, asUser?: string): Promise<void> {
    if (this.tokenRejected) return;
    const path = `/_matrix/client/v3/rooms/${enc(roomId)}/typing/${enc(asUser ?? this.opts.userId)}`;
    await this.bestEffort("typing", roomId, () => this.http.request("PUT", path,
      { body: typing ? { typing: true, timeout: timeoutMs } : { typing: false }, ...(asUser !== undefined ? { query: { user_id: asUser } } : {}) }));
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

  /** retry_after_ms plus a little jitter (never less; concurrent sends do not all return at once), else backoff. */
  private waitFor(error: MatrixRequestError, attempt: number): number {
    if (error.kind === "rate_limited" && error.retryAfterMs !== undefined) {
      const jitter = Math.floor(Math.min(Math.max((this.opts.random ?? Math.random)(), 0), 1) * this.opts.retryBaseMs);
      return Math.max(error.retryAfterMs, 0) + 1 + jitter; // +1: timers may fire up to 1 ms early on the ms clock
    }
    return Math.max(1, fullJitterBackoff(attempt, this.opts.retryBaseMs, this.opts.retryMaxMs, this.opts.random));
  }

  private rejectToken(error: MatrixRequestError): void {
    if (this.tokenRejected) return;
    this.tokenRejected = error;
    this.opts.onTokenRejected(error);
  }
}

/** Synapse refuses a second identical reaction: 400 M_DUPLICATE_ANNOTATION (newer) or M_UNKNOWN "Can't send same reaction twice" (1.67). */
export function isDuplicateAnnotation(error: MatrixRequestError): boolean {
  return error.status === 400 && (error.errcode === "M_DUPLICATE_ANNOTATION" || /same reaction twice/i.test(error.message));
}
