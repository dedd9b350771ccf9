// The fetch the HTTP transport gives @ag-ui/client: a non-2xx answer becomes an HttpStatusError carrying its
// status and Retry-After (read here, from the headers, which the client's own error does not keep), and its body
// is dropped unread: it never reaches a log or a user. The bot never retries a user turn by itself.
// A 2xx body is handed on through a stream that ends (rather than errors) when the connection breaks: the client
// then sees the event stream end before RUN_FINISHED (told as a lost link), and its teardown's cancel() cannot
// reject unhandled (@ag-ui/client 1.0.0 rethrows a failed cancel of an errored stream).
import { parseRetryAfter } from "../../matrix/retry-after";
import type { RunFailure } from "../link-types";

export type FetchFn = (url: string, init: RequestInit) => Promise<Response>;

export class HttpStatusError extends Error {
  constructor(readonly status: number, readonly retryAfterMs: number | undefined) {
    super(`the agent answered HTTP ${status}`);
    this.name = "HttpStatusError";
  }
}

export function statusCheckingFetch(base: FetchFn = (url, init) => fetch(url, init)): FetchFn {
  return async (url, init) => {
    const response = await base(url, init);
    if (response.ok) return endingOnBreak(response);
    const retryAfterMs = parseRetryAfter(response.headers.get("retry-after") ?? undefined);
    await response.body?.cancel().catch(() => undefined);
    throw new HttpStatusError(response.status, retryAfterMs);
  };
}

/** A failed POST or stream, in the words the bot uses (failure-text.ts). */
export function failureOf(err: unknown): RunFailure {
  if (err instanceof HttpStatusError) {
    const detail = `the agent answered HTTP ${err.status}`;
    if (err.status === 401 || err.status === 403) return { kind: "http_auth", status: err.status, detail };
    if (err.status === 429) {
      return { kind: "http_rate_limited", status: err.status, detail, ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}) };
    }
    if (err.status >= 500) return { kind: "http_unavailable", status: err.status, detail };
    return { kind: "bad_frame", detail: `${detail}, which the bot cannot use` };
  }
  // fetch rejects (a TypeError "fetch failed", from another realm under jest) only when no answer came at all; a
  // connection broken later ends the body (endingOnBreak) and is told as a lost link by the transport.
  const message = typeof err === "object" && err !== null ? String((err as { message?: unknown }).message ?? "") : String(err);
  const code = errorCode(err);
  if (/fetch failed/i.test(message)) return { kind: "unreachable", detail: `the agent could not be reached${code ? ` (${code})` : ""}` };
  // Whatever else the client refused (an event that is no JSON object, an SSE event over its 10 MB buffer).
  return { kind: "bad_frame", detail: `the agent's event stream could not be read: ${message.slice(0, 200)}` };
}

function errorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && typeof e === "object" && e !== null; depth += 1) {
    const { code, cause, errors } = e as { code?: unknown; cause?: unknown; errors?: unknown };
    if (typeof code === "string") return code;
    e = cause ?? (Array.isArray(errors) ? errors[0] : undefined);
  }
  return undefined;
}

/** The response with a body that closes, instead of erroring, when the connection breaks. */
function endingOnBreak(response: Response): Response {
  const source = response.body;
  if (!source) return response;
  const reader = source.getReader();
  const body = new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      try {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch {
        controller.close();
      }
    },
    cancel: (reason) => reader.cancel(reason).catch(() => undefined),
  });
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}
