// The HTTP `Retry-After` header of a homeserver's error answer. Since Matrix v1.10 it is how a 429 says when to
// come back (`retry_after_ms` in the body is deprecated), and a homeserver may send it alone. The HTTP engine
// (request-engine.ts) reads it from the response and hands it on with the JSON error body, under a symbol the
// SDK neither copies nor logs; errors.ts takes it from there.

/** Key of the header's delay (ms) on a parsed JSON error body. */
export const RETRY_AFTER_HEADER_MS: unique symbol = Symbol("retry-after header (ms)");

/** A `Retry-After` value, delay-seconds or an HTTP-date, as milliseconds from `now`; undefined if absent or invalid. */
export function parseRetryAfter(value: unknown, now: number = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (typeof text !== "string" || text.trim() === "") return undefined;
  if (/^\s*\d+\s*$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/** The header's delay carried on an error body (see RETRY_AFTER_HEADER_MS). */
export function retryAfterOnBody(body: unknown): number | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const ms = (body as { [RETRY_AFTER_HEADER_MS]?: unknown })[RETRY_AFTER_HEADER_MS];
  return typeof ms === "number" ? ms : undefined;
}
