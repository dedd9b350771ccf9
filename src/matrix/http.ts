// A small Matrix HTTP client over the SDK's client calls (MatrixClient.doRequest, whose HTTP engine is
// src/matrix/request-engine.ts): every failure is a MatrixRequestError.
import { normalizeMatrixError } from "./errors";
import { createSdkClient, type SdkClient } from "./sdk";

export type Query = Record<string, string | number | boolean | string[] | undefined>;

export interface MatrixHttp {
  request<T = unknown>(method: "GET" | "POST" | "PUT" | "DELETE", path: string,
    opts?: { query?: Query; body?: unknown; timeoutMs?: number }): Promise<T>;
}

export function createMatrixHttp(opts: {
  homeserverUrl: string;
  accessToken: string;
  requestTimeoutMs: number;
  masqueradeAs?: string;
  transport?: SdkClient;
}): MatrixHttp {
  const client = opts.transport ?? createSdkClient(opts.homeserverUrl, opts.accessToken, opts.masqueradeAs);
  return {
    async request<T>(method: "GET" | "POST" | "PUT" | "DELETE", path: string,
      ro: { query?: Query; body?: unknown; timeoutMs?: number } = {}): Promise<T> {
      const query = ro.query ? dropUndefined(ro.query) : null;
      try {
        return (await client.doRequest(method, path, query, ro.body ?? null, ro.timeoutMs ?? opts.requestTimeoutMs)) as T;
      } catch (e) {
        throw normalizeMatrixError(e, `${method} ${describePath(path)}`);
      }
    },
  };
}

function dropUndefined(q: Query): Record<string, string | number | boolean | string[]> {
  const out: Record<string, string | number | boolean | string[]> = {};
  for (const [k, v] of Object.entries(q)) if (v !== undefined) out[k] = v;
  return out;
}

/** The path without ids that could be long; used in error texts. Path segments never hold secrets. */
function describePath(path: string): string {
  return path.replace(/^\/_matrix\/client\/v3/, "");
}

export const enc = encodeURIComponent;
