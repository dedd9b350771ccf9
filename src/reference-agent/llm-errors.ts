// Provider failures mapped to protocol RUN_ERROR codes. Each mapping carries two texts: `userMessage`
// (what the bot shows people: no provider text, no secrets, no stack) and `detail` (what the log needs).
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "openai";
import { AgentRunError } from "./brain";

/** An AgentRunError from the LLM provider, with what the log needs besides what users read. */
export class ProviderRunError extends AgentRunError {
  constructor(
    code: AgentRunError["code"],
    userMessage: string,
    retryable: boolean,
    /** For the log: status, provider code and message (secrets are redacted by the logger). */
    readonly detail: Record<string, unknown>,
  ) {
    super(code, userMessage, retryable);
    this.name = "ProviderRunError";
  }
}

export const USER_MESSAGES = {
  auth: "The AI service refused the agent's credentials. The bot's operator needs to check its API key.",
  rate_limited: "The AI service is receiving too many requests right now. Please try again in a minute.",
  upstream_unavailable: "The AI service is unavailable right now. Please try again later.",
  context_too_long: "This conversation has grown too long for the AI model. Please start a new conversation.",
  timeout: "The AI service took too long to answer. Please try again.",
  internal: "The agent could not get an answer from the AI service.",
  empty: "The AI service returned an empty answer. Please try again.",
} as const;

const CONTEXT_TEXT = /context[ _-]?(length|window)|maximum context|too many tokens|prompt is too long|reduce the length/i;
const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_SOCKET"]);

function retryAfterSeconds(headers: Headers | undefined): number | undefined {
  const ms = Number(headers?.get("retry-after-ms") ?? NaN);
  if (Number.isFinite(ms) && ms > 0) return Math.ceil(ms / 1000);
  const s = Number(headers?.get("retry-after") ?? NaN);
  return Number.isFinite(s) && s > 0 ? Math.ceil(s) : undefined;
}

function providerText(err: APIError): string {
  const body = err.error as { message?: unknown } | undefined;
  return typeof body?.message === "string" ? body.message : err.message;
}

/** Error codes of a (possibly wrapped) network failure: err, err.cause, err.cause.cause. */
function networkCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && typeof e === "object" && e !== null; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && NETWORK_CODES.has(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export function timeoutError(timeoutMs: number): ProviderRunError {
  return new ProviderRunError("timeout", USER_MESSAGES.timeout, true, { reason: `no data from the provider for ${timeoutMs} ms` });
}

/** Map anything the openai client (or the stream under it) threw to a typed run error. */
export function mapProviderError(err: unknown): ProviderRunError {
  if (err instanceof ProviderRunError) return err;
  if (err instanceof APIConnectionTimeoutError) {
    return new ProviderRunError("timeout", USER_MESSAGES.timeout, true, { reason: "the provider did not answer in time" });
  }
  if (err instanceof APIUserAbortError) {
    return new ProviderRunError("cancelled", "The run was cancelled.", false, { reason: "aborted" });
  }
  if (err instanceof APIConnectionError) {
    return new ProviderRunError("upstream_unavailable", USER_MESSAGES.upstream_unavailable, true, {
      reason: "connection failed", network: networkCode(err), message: err.message,
    });
  }
  if (err instanceof APIError) {
    const status = err.status;
    const detail = { status, code: err.code ?? undefined, type: err.type, message: providerText(err), requestId: err.requestID ?? undefined };
    if (status === 401 || status === 403) return new ProviderRunError("auth", USER_MESSAGES.auth, false, detail);
    if (status === 429) {
      const after = retryAfterSeconds(err.headers);
      const text = after !== undefined && after <= 3600
        ? `The AI service is receiving too many requests right now. Please try again in about ${after} second${after === 1 ? "" : "s"}.`
        : USER_MESSAGES.rate_limited;
      return new ProviderRunError("rate_limited", text, true, detail);
    }
    if (err.code === "context_length_exceeded" || status === 413 || ((status === 400 || status === undefined) && CONTEXT_TEXT.test(providerText(err)))) {
      return new ProviderRunError("context_too_long", USER_MESSAGES.context_too_long, false, detail);
    }
    if (status !== undefined && status >= 500) {
      return new ProviderRunError("upstream_unavailable", USER_MESSAGES.upstream_unavailable, true, detail);
    }
    return new ProviderRunError("internal", USER_MESSAGES.internal, false, detail);
  }
  const network = networkCode(err);
  const message = err instanceof Error ? err.message : String(err);
  if (network !== undefined || /^(terminated|fetch failed|other side closed)$/i.test(message)) {
    return new ProviderRunError("upstream_unavailable", USER_MESSAGES.upstream_unavailable, true, { reason: "the connection broke", network, message });
  }
  return new ProviderRunError("internal", USER_MESSAGES.internal, false, { reason: "unexpected failure", message });
}
