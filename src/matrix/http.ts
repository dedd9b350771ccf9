// A small Matrix HTTP client: JSON in and out over our own request function (direct-request.ts); every failure is
// a MatrixRequestError.
import { createDirectRequest, type QueryValue } from "./direct-request";

export type Query = Record<string, string | number | boolean | string[] | undefined>;

export interface MatrixHttp {
  request<T = unknown>(method: "GET" | "POST" | "PUT" | "DELETE", path: string,
    opts?: { query?: Query; body?: unknown; timeoutMs?: number }): Promise<T>;
}

/**
 * Sockets kept for calls other than sends, above the sends' own concurrency: typing, receipts, a /sync long-poll,
 * room and state reads. Beyond the pool a request waits for a socket; it never fails for want of one.
 */
const SOCKETS_BESIDE_SENDS = 16;

export function createMatrixHttp(opts: {
  homeserverUrl: string;
  accessToken: string;
  requestTimeoutMs: number;
  /** Messages on their way at once (SEND_CONCURRENCY): the socket pool is sized to it. Default 64. */
  sendConcurrency?: number;
}): MatrixHttp {
  const direct = createDirectRequest({ homeserverUrl: opts.homeserverUrl, accessToken: opts.accessToken,
    maxSockets: (opts.sendConcurrency ?? 64) + SOCKETS_BESIDE_SENDS });
  return {
    async request<T>(method: "GET" | "POST" | "PUT" | "DELETE", path: string,
      ro: { query?: Query; body?: unknown; timeoutMs?: number } = {}): Promise<T> {
      return (await direct({ method, path, query: ro.query ? dropUndefined(ro.query) : undefined, body: ro.body,
        timeoutMs: ro.timeoutMs ?? opts.requestTimeoutMs, what: () => `${method} ${describePath(path)}` })) as T;
    },
  };
}

function dropUndefined(q: Query): Record<string, QueryValue> {
  const out: Record<string, QueryValue> = {};
  for (const [k, v] of Object.entries(q)) if (v !== undefined) out[k] = v;
  return out;
}

/** The path without ids that could be long; used in error texts. Path segments never hold secrets. */
function describePath(path: string): string {
  return path.replace(/^\/_matrix\/client\/v3/, "");
}

export const enc = encodeURIComponent;
