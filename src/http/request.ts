// Requests and replies of the bot's own HTTP server: bounded body reading, JSON parsing (optionally through a
// zod schema), bearer-token comparison, and HttpError for "answer with this status" from a handler.
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import type { z } from "zod";

/**
 * The one shape of every error body of the bot's HTTP server, as Matrix has it: a machine-readable `errcode`
 * (M_NOT_FOUND, M_UNRECOGNIZED, M_MISSING_TOKEN, M_UNKNOWN_TOKEN, M_NOT_JSON, M_BAD_JSON, M_TOO_LARGE, M_UNKNOWN)
 * and a sentence for people in `error`.
 */
export interface ErrorBody {
  readonly errcode: string;
  readonly error: string;
}

export function errorBody(errcode: string, error: string): ErrorBody {
  return { errcode, error };
}

/** Thrown by a handler (or a helper) to answer `status` with `{ errcode, error }`. */
export class HttpError extends Error {
  override readonly name = "HttpError";
  constructor(
    readonly status: number,
    readonly errcode: string,
    /** Safe to show to the caller: no stack, no secrets. */
    readonly publicMessage: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(`${status} ${errcode}: ${publicMessage}`);
  }

  get body(): ErrorBody {
    return errorBody(this.errcode, this.publicMessage);
  }
}

export interface HttpReply {
  status: number;
  /** A string is sent as text/plain; anything else as JSON. Omit for an empty body. */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface HttpRequest {
  readonly method: string;
  /** The path without the query string, e.g. "/proactive". */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  /** The raw request, for anything the helpers do not cover. Do not read its body yourself. */
  readonly raw: IncomingMessage;
  /** The body, at most the server's bodyLimitBytes (413 beyond). Read once; later calls return the same. */
  body(): Promise<Buffer>;
  /** The body parsed as JSON (400 when it is not; 415 when the content type says it is something else). */
  json(): Promise<unknown>;
  /** The JSON body checked with `schema`: 400 naming the first problems when it does not match. */
  json<T>(schema: z.ZodType<T>): Promise<T>;
  /** The token of an `Authorization: Bearer <token>` header, or undefined. */
  bearerToken(): string | undefined;
}

export type RouteHandler = (request: HttpRequest) => HttpReply | Promise<HttpReply>;

/** Reply helper: `json(202, { id })`. */
export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpReply {
  return { status, body, headers };
}

/** Constant-time comparison of a presented token with the expected one (any lengths). */
export function tokensMatch(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const a = createHash("sha256").update(presented).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The 401 for a presented bearer token that is not `expected` (missing or wrong); undefined when it matches. */
export function bearerRefusal(presented: string | undefined, expected: string): HttpError | undefined {
  if (tokensMatch(presented, expected)) return undefined;
  const challenge = { "www-authenticate": "Bearer" };
  return presented === undefined
    ? new HttpError(401, "M_MISSING_TOKEN", "missing bearer token (Authorization: Bearer …)", challenge)
    : new HttpError(401, "M_UNKNOWN_TOKEN", "wrong bearer token", challenge);
}

/** Throws 401 unless the request carries `Authorization: Bearer <expected>`. */
export function requireBearer(request: HttpRequest, expected: string): void {
  const refusal = bearerRefusal(request.bearerToken(), expected);
  if (refusal) throw refusal;
}

export function bearerFrom(headers: IncomingHttpHeaders): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? "");
  return match?.[1];
}

/** Reads at most `limit` bytes; 413 (and the rest discarded) beyond. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(tooLarge(limit));
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on("error", (error) => {
      if (failed) return;
      failed = true;
      reject(new HttpError(400, "M_UNKNOWN", `the request body could not be read (${error.message})`));
    });
  });
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, "M_TOO_LARGE", `the request body is larger than ${limit} bytes`, { connection: "close" });
}

export function parseJsonBody(buffer: Buffer, contentType: string | undefined): unknown {
  const type = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (type !== "" && type !== "application/json" && !type.endsWith("+json")) {
    throw new HttpError(415, "M_NOT_JSON", "send the body as application/json");
  }
  if (buffer.length === 0) throw new HttpError(400, "M_NOT_JSON", "the request body is empty; send a JSON object");
  try {
    return JSON.parse(buffer.toString("utf8")) as unknown;
  } catch {
    throw new HttpError(400, "M_NOT_JSON", "the request body is not valid JSON");
  }
}

export function checkWithSchema<T>(value: unknown, schema: z.ZodType<T>): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.map(String).join(".") || "body"}: ${issue.message}`);
  throw new HttpError(400, "M_BAD_JSON", `invalid body: ${problems.join("; ")}`);
}
