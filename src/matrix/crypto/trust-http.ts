// The few Client-Server calls of cross-signing and key backup that must see a whole non-2xx answer (user-interactive
// auth's 401 carries `flows` and `session`; a backup upload to a replaced version answers 403 with
// `current_version`), which MatrixHttp turns into errors. fetch, our token in a header, nothing logged.
import type { Query } from "../http";

export interface TrustAnswer {
  status: number;
  body: unknown;
}

export interface TrustHttp {
  post(path: string, body: unknown, query?: Query): Promise<TrustAnswer>;
  put(path: string, body: unknown, query?: Query): Promise<TrustAnswer>;
  get(path: string, query?: Query): Promise<TrustAnswer>;
  delete(path: string, body?: unknown): Promise<TrustAnswer>;
}

export function createTrustHttp(opts: { homeserverUrl: string; accessToken: string; timeoutMs: number; query?: Query }): TrustHttp {
  const call = async (method: string, path: string, body: unknown, query: Query | undefined): Promise<TrustAnswer> => {
    const url = new URL(`${opts.homeserverUrl.replace(/\/+$/, "")}${path}`);
    for (const [k, v] of Object.entries({ ...opts.query, ...query })) if (v !== undefined) url.searchParams.set(k, String(v));
    const response = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${opts.accessToken}`, accept: "application/json",
        ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: response.status, body: parsed };
  };
  return {
    post: (path, body, query) => call("POST", path, body, query),
    put: (path, body, query) => call("PUT", path, body, query),
    get: (path, query) => call("GET", path, undefined, query),
    delete: (path, body) => call("DELETE", path, body, undefined),
  };
}
