// A minimal Client-Server API call for the operator commands (fetch, not matrix-bot-sdk: the commands must
// start fast and report network and TLS problems in words an operator can act on).

export interface MatrixAnswer {
  readonly status: number;
  /** Parsed JSON, or undefined when the body was not JSON. */
  readonly body: unknown;
  readonly errcode: string | undefined;
  readonly error: string | undefined;
}

/** The homeserver could not be reached at all (DNS, refused, TLS, timeout). */
export class UnreachableError extends Error {
  override readonly name = "UnreachableError";
  constructor(readonly what: string, readonly fix: string) {
    super(what);
  }
}

export interface MatrixFetchOptions {
  accessToken?: string;
  body?: unknown;
  timeoutMs: number;
}

export async function matrixFetch(baseUrl: string, method: "GET" | "POST", path: string,
  options: MatrixFetchOptions): Promise<MatrixAnswer> {
  const url = `${baseUrl.replace(/\/+$/, "")}${path}`;
  const headers: Record<string, string> = { accept: "application/json" };
  if (options.accessToken !== undefined) headers["authorization"] = `Bearer ${options.accessToken}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers,
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      signal: AbortSignal.timeout(options.timeoutMs),
      redirect: "follow",
    });
  } catch (error) {
    throw describeFetchFailure(error, baseUrl, options.timeoutMs);
  }
  const text = await response.text().catch(() => "");
  let body: unknown;
  try {
    body = text === "" ? undefined : (JSON.parse(text) as unknown);
  } catch {
    body = undefined;
  }
  const record = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
  return {
    status: response.status,
    body,
    errcode: typeof record["errcode"] === "string" ? record["errcode"] : undefined,
    error: typeof record["error"] === "string" ? record["error"] : undefined,
  };
}

const TLS_UNTRUSTED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_GET_ISSUER_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
]);

function causeCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && typeof current === "object" && current !== null; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Turns a fetch failure into what happened and what to do about it. */
export function describeFetchFailure(error: unknown, baseUrl: string, timeoutMs: number): UnreachableError {
  const name = (error as { name?: unknown } | null)?.name;
  if (name === "TimeoutError" || name === "AbortError") {
    return new UnreachableError(`${baseUrl} did not answer within ${timeoutMs} ms`,
      "check the URL and that the homeserver (or the proxy in front of it) is running and reachable from here");
  }
  const code = causeCode(error);
  if (code === "ECONNREFUSED") {
    return new UnreachableError(`nothing accepts connections at ${baseUrl} (connection refused)`,
      "start the homeserver, or correct the host and port in the URL");
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return new UnreachableError(`the host name in ${baseUrl} does not resolve (${code})`,
      "correct the URL, or fix DNS (inside Docker, use the compose service name, e.g. http://synapse:8008)");
  }
  if (code !== undefined && TLS_UNTRUSTED.has(code)) {
    return new UnreachableError(`the TLS certificate of ${baseUrl} is not trusted (${code})`,
      "if the homeserver uses a private or self-signed CA, point NODE_EXTRA_CA_CERTS at that CA's PEM file (runbook/tls.md)");
  }
  if (code === "CERT_HAS_EXPIRED") {
    return new UnreachableError(`the TLS certificate of ${baseUrl} has expired`, "renew the homeserver's certificate");
  }
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return new UnreachableError(`the TLS certificate of ${baseUrl} is for another host name`,
      "use the host name the certificate was issued for, or fix the certificate");
  }
  const cause = (error as { cause?: unknown } | null)?.cause;
  const detail = code ?? (cause instanceof Error ? cause.message : error instanceof Error ? error.message : String(error));
  return new UnreachableError(`cannot reach ${baseUrl} (${detail})`,
    "check the URL, the network, and any proxy between here and the homeserver");
}
