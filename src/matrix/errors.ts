// Matrix request failures, normalized. Never carries request headers or the raw response (token leaks).
import { parseRetryAfter, retryAfterOnBody } from "./retry-after";
import { isSdkMatrixError } from "./sdk";

export type MatrixFailureKind =
  | "rate_limited" // 429 M_LIMIT_EXCEEDED: retry after retryAfterMs
  | "unknown_token" // 401 M_UNKNOWN_TOKEN / M_MISSING_TOKEN: stop, tell the operator
  | "forbidden" // 403: permanent for this request
  | "not_found" // 404: permanent for this request
  | "server" // 5xx: transient
  | "network" // no response: transient
  | "client"; // any other 4xx: permanent

export class MatrixRequestError extends Error {
  override readonly name = "MatrixRequestError";
  constructor(
    readonly kind: MatrixFailureKind,
    readonly status: number | undefined,
    readonly errcode: string | undefined,
    message: string,
    readonly retryAfterMs: number | undefined,
  ) {
    super(message);
  }

  get transient(): boolean {
    return this.kind === "rate_limited" || this.kind === "server" || this.kind === "network";
  }

  /** A safe one-line description for logs. */
  describe(): string {
    const parts = [this.kind, this.status, this.errcode].filter((p) => p !== undefined);
    return `${parts.join(" ")}: ${this.message}`;
  }
}

function kindFor(status: number | undefined, errcode: string | undefined): MatrixFailureKind {
  if (errcode === "M_LIMIT_EXCEEDED" || status === 429) return "rate_limited";
  if (errcode === "M_UNKNOWN_TOKEN" || errcode === "M_MISSING_TOKEN" || status === 401) return "unknown_token";
  if (status === undefined) return "network";
  if (status === 403) return "forbidden";
  if (status === 404) return "not_found";
  if (status >= 500) return "server";
  return "client";
}

function short(text: unknown, max = 300): string {
  const s = typeof text === "string" ? text : JSON.stringify(text ?? "");
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

function retryAfterFromHeaders(headers: unknown): number | undefined {
  if (typeof headers !== "object" || headers === null) return undefined;
  return parseRetryAfter((headers as Record<string, unknown>)["retry-after"]);
}

/**
 * When the homeserver asks to be retried: `retry_after_ms` in the body (exact), else the `Retry-After` header (whole
 * seconds or a date; since Matrix v1.10 a homeserver may send only that), carried on the body by the HTTP engine or
 * found in `headers`. A server sending both means the same wait, the header rounded up to seconds.
 */
function retryAfterOf(body: unknown, headers?: unknown): number | undefined {
  const fromBody = (body as { retry_after_ms?: unknown } | undefined)?.retry_after_ms;
  if (typeof fromBody === "number" && Number.isFinite(fromBody) && fromBody >= 0) return fromBody;
  return retryAfterOnBody(body) ?? retryAfterFromHeaders(headers);
}

/** Turns whatever the SDK or the network threw into a MatrixRequestError without secrets. */
export function normalizeMatrixError(e: unknown, what: string): MatrixRequestError {
  if (e instanceof MatrixRequestError) return e;
  if (isSdkMatrixError(e)) {
    const kind = kindFor(e.statusCode, e.errcode);
    return new MatrixRequestError(kind, e.statusCode, e.errcode, `${what}: ${short(e.error)}`, retryAfterOf(e.body));
  }
  if (typeof e === "object" && e !== null && "statusCode" in e) {
    // The SDK throws the raw `request` response for a non-2xx without errcode: read only safe fields.
    const res = e as { statusCode?: unknown; body?: unknown; headers?: unknown };
    return errorOfAnswer(typeof res.statusCode === "number" ? res.statusCode : undefined, res.body, res.headers, what);
  }
  const code = typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : undefined;
  const message = e instanceof Error ? e.message : String(e);
  return new MatrixRequestError("network", undefined, code, `${what}: ${short(message)}`, undefined);
}

/** A homeserver's error answer (its status, parsed body and headers) as a MatrixRequestError: safe fields only. */
export function errorOfAnswer(status: number | undefined, parsedBody: unknown, headers: unknown, what: string): MatrixRequestError {
  const body = typeof parsedBody === "object" && parsedBody !== null ? parsedBody as { errcode?: unknown; error?: unknown } : undefined;
  const errcode = typeof body?.errcode === "string" ? body.errcode : undefined;
  const detail = typeof body?.error === "string" ? body.error : `HTTP ${status ?? "?"}`;
  return new MatrixRequestError(kindFor(status, errcode), status, errcode, `${what}: ${short(detail)}`, retryAfterOf(body, headers));
}
