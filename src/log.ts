// The pino root logger, child loggers, redaction of every configured secret, and the adapter that routes
// matrix-bot-sdk's LogService into pino. Redaction is two layers:
//   1. fields named like credentials (authorization headers, tokens, passwords) are blanked at any depth
//      (log-fields.ts: a walk that copies only what it blanks; pino's `redact` paths cost ~80 µs a line);
//   2. a `hooks.streamWrite` scrubber removes every configured secret VALUE (and its URL/JSON-escaped
//      forms), `Bearer …`/`Basic …` credentials, token query parameters and token JSON fields from the
//      final serialized line, wherever they occur: message text, nested objects, URLs, error stacks.
import pino, { type DestinationStream, type Logger } from "pino";
import type { PrettyOptions } from "pino-pretty";
import { blankSecretFields, SECRET_FIELDS } from "./log-fields";
import { LogRepeats } from "./log-repeats";

export type { Logger } from "pino";

export const REDACTED = "[REDACTED]";

/** Top-level fields with a serializer of their own (describeError writes no credential field). */
const SERIALIZED_FIELDS: ReadonlySet<string> = new Set(["err", "error"]);

export interface CreateLoggerOptions {
  readonly level: string;
  readonly secrets: readonly string[];
  readonly destination?: DestinationStream;
  /** Human-readable output via pino-pretty (main.ts passes stdout.isTTY). Default: JSON lines. */
  readonly pretty?: boolean;
  /** LOG_REPEAT_WINDOW_MS: identical debug/warn/error lines at most once per window (log-repeats.ts); 0 or unset: all. */
  readonly repeatWindowMs?: number;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The forms a secret can take inside a serialized JSON log line. */
function secretForms(secret: string): string[] {
  const forms = new Set<string>();
  const encoded = encodeURIComponent(secret);
  const bases = [secret, encoded, encoded.replace(/%20/g, "+"), encoded.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())];
  for (const base of bases) {
    const once = JSON.stringify(base).slice(1, -1);
    forms.add(base).add(once).add(JSON.stringify(once).slice(1, -1));
  }
  return [...forms].filter((f) => f !== "");
}

const CREDENTIAL_PATTERNS: ReadonlyArray<[RegExp, string]> = [
  [/\b(Bearer|Basic)(\s+)[A-Za-z0-9\-._~+/%]+=*/gi, `$1$2${REDACTED}`],
  [/([?&;](?:access_token|token|password|api_key|apikey)=)[^&\s"'\\#]+/gi, `$1${REDACTED}`],
  [/((?:access_token|as_token|hs_token|password|passphrase)\\*"\s*:\s*\\*")[^"\\]+/gi, `$1${REDACTED}`],
];

/** A function that removes every secret value and credential pattern from a text. */
export function createSecretScrubber(secrets: readonly string[]): (text: string) => string {
  const forms = [...new Set(secrets.filter((s) => s !== "").flatMap(secretForms))].sort((a, b) => b.length - a.length);
  const secretPattern = forms.length > 0 ? new RegExp(forms.map(escapeRegExp).join("|"), "g") : undefined;
  return (text) => {
    let out = secretPattern ? text.replace(secretPattern, REDACTED) : text;
    for (const [pattern, replacement] of CREDENTIAL_PATTERNS) out = out.replace(pattern, replacement);
    return out;
  };
}

const RAW_HTTP_KEYS = new Set(["request", "response", "req", "res", "socket", "agent", "headers", "config", "client", "connection"]);

/**
 * A loggable summary of an error (or of anything thrown): name, message, errcode/statusCode/retryAfterMs
 * when present, and the stack unless `withStack` is false. Never the raw request/response objects, which
 * hold Authorization headers.
 */
export function describeError(value: unknown, withStack = true, depth = 0): Record<string, unknown> {
  if (typeof value !== "object" || value === null) return { message: String(value) };
  const source = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  if (value instanceof Error) {
    out.type = value.name;
    out.message = value.message;
  } else if (typeof source.message === "string") {
    out.message = source.message;
  }
  for (const key of ["errcode", "error", "statusCode", "status", "code", "retryAfterMs"]) {
    const field = source[key];
    if (typeof field === "string" || typeof field === "number") out[key] = field;
  }
  const body = source.body;
  if (typeof body === "object" && body !== null) {
    const b = body as Record<string, unknown>;
    if (typeof b.errcode === "string" && out.errcode === undefined) out.errcode = b.errcode;
    if (typeof b.error === "string" && out.error === undefined) out.error = b.error;
  }
  if (withStack && value instanceof Error && typeof value.stack === "string") out.stack = value.stack;
  if (value instanceof Error && value.cause !== undefined && depth < 3) {
    out.cause = describeError(value.cause, withStack, depth + 1);
  }
  if (Object.keys(out).length === 0) out.message = Object.prototype.toString.call(value);
  return out;
}

export function createLogger(options: CreateLoggerOptions): Logger {
  const scrub = createSecretScrubber(options.secrets);
  const loggerOptions: pino.LoggerOptions = {
    level: options.level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    // A line's fields; a child logger's bindings (pino gives them to no formatter) by the serializers below.
    formatters: { log: (fields) => blankSecretFields(fields, REDACTED, SERIALIZED_FIELDS) },
    serializers: {
      ...Object.fromEntries([...SECRET_FIELDS].map((name) => [name, () => REDACTED])),
      err: (e: unknown) => describeError(e), error: (e: unknown) => describeError(e),
    },
    hooks: { streamWrite: scrub, logMethod: new LogRepeats(options.repeatWindowMs ?? 0).hook() },
  };
  let destination: DestinationStream | undefined = options.destination;
  if (options.pretty === true) {
    // Loaded only when asked for. It formats the line the scrubber already cleaned.
    const { prettyFactory } = require("pino-pretty") as { prettyFactory: (o: PrettyOptions) => (line: string) => string };
    const format = prettyFactory({ colorize: options.destination === undefined, translateTime: "SYS:HH:MM:ss.l" });
    const target = options.destination ?? pino.destination({ dest: 1, sync: true });
    destination = { write: (line: string) => target.write(format(line)) };
  }
  return destination ? pino(loggerOptions, destination) : pino(loggerOptions);
}

/**
 * Stdout as pino writes it by default (asynchronous, flushed at exit), plus `onClosed`, called once when a write
 * fails with EPIPE: whoever read the log (a pipe to `jq`, a log collector) is gone. Later lines are dropped.
 *
 * Lines are kept as Buffers while a write is in flight (sonic-boom's "buffer" mode): in its default mode each line is
 * appended to one pending string and that whole string is measured again (`Buffer.byteLength`, which copies it flat)
 * for every line, up to 16 KB copied per line while stdout is busy: ~5 KB of garbage per turn at 1,000 rooms.
 */
export function stdoutDestination(onClosed: () => void): DestinationStream {
  const stream = pino.destination({ dest: 1, sync: false, minLength: 0, contentMode: "buffer" });
  // Buffer mode's write counts `data.length` as bytes: it must be given Buffers (its types say strings).
  const writeBuffer = stream.write as unknown as (this: typeof stream, data: Buffer) => boolean;
  stream.write = function write(this: typeof stream, line: string): boolean {
    return writeBuffer.call(this, Buffer.from(line, "utf8"));
  };
  let told = false;
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE" || told) return;
    told = true;
    onClosed();
  });
  return stream;
}

export function childLogger(logger: Logger, module: string): Logger {
  return logger.child({ module });
}

// ------------------------------------------------------------------ matrix-bot-sdk adapter

/** matrix-bot-sdk's ILogger, implemented by the adapter. */
export interface SdkLogSink {
  trace(module: string, ...messageOrObject: unknown[]): void;
  debug(module: string, ...messageOrObject: unknown[]): void;
  info(module: string, ...messageOrObject: unknown[]): void;
  warn(module: string, ...messageOrObject: unknown[]): void;
  error(module: string, ...messageOrObject: unknown[]): void;
}

/** What routeSdkLogs needs of the SDK: pass `{ LogService, LogLevel }` from matrix-bot-sdk. */
export interface SdkLogging<L> {
  readonly LogService: { setLogger(logger: SdkLogSink): void; setLevel(level: L): void };
  readonly LogLevel: { readonly TRACE: L; readonly DEBUG: L; readonly INFO: L; readonly WARN: L; readonly ERROR: L };
}

type PinoMethod = "trace" | "debug" | "warn" | "error";

const MAX_DEPTH = 4;
const MAX_ITEMS = 20;
const MAX_STRING = 2000;
const MAX_CACHED_MODULES = 200;

function truncate(text: string): string {
  return text.length > MAX_STRING ? `${text.slice(0, MAX_STRING)}…(${text.length} chars)` : text;
}

/** A plain, bounded copy of an SDK log argument with raw HTTP objects left out. */
function sanitize(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return truncate(value);
  if (value === null || typeof value !== "object") {
    return typeof value === "function" || typeof value === "symbol" ? String(value) : value;
  }
  if (value instanceof Error) return describeError(value, false);
  if (Buffer.isBuffer(value)) return `<Buffer ${value.length} bytes>`;
  const record = value as Record<string, unknown>;
  // A raw HTTP response (the SDK throws these for a non-2xx without errcode): status and body only.
  if (typeof record.statusCode === "number" && ("headers" in record || "request" in record || "socket" in record)) {
    return { statusCode: record.statusCode, body: sanitize(record.body, depth + 1) };
  }
  if (depth >= MAX_DEPTH) return "[…]";
  if (Array.isArray(value)) return value.slice(0, MAX_ITEMS).map((v) => sanitize(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(record).slice(0, MAX_ITEMS)) {
    out[key] = RAW_HTTP_KEYS.has(key) ? "[omitted]" : sanitize(record[key], depth + 1);
  }
  return out;
}

/**
 * Routes matrix-bot-sdk's LogService into `logger`, as child loggers `{ module: "sdk:<module>" }`.
 *
 * Levels: the SDK is chatty, so its INFO is logged at our debug and its DEBUG/TRACE at our trace; WARN and
 * ERROR stay. Exception: MatrixHttpClient's ERROR (logged for every non-2xx, including expected 404s) goes
 * to debug, because the SDK also throws that error to our code, which decides how serious it is.
 * The SDK's own level is set from ours so it does not even build messages we would drop.
 * Extra arguments are serialized (errors → message + errcode/statusCode; raw HTTP objects are never
 * logged: they hold the request headers).
 */
export function routeSdkLogs<L>(logger: Logger, sdk: SdkLogging<L>): SdkLogSink {
  const children = new Map<string, Logger>();
  const childFor = (module: string): Logger => {
    const existing = children.get(module);
    if (existing) return existing;
    const child = logger.child({ module: `sdk:${module}` });
    if (children.size < MAX_CACHED_MODULES) children.set(module, child);
    return child;
  };
  const emit = (method: PinoMethod, module: unknown, args: unknown[]): void => {
    const name = typeof module === "string" ? module : String(module);
    const target = childFor(name);
    if (!target.isLevelEnabled(method)) return;
    const words: string[] = [];
    const details: unknown[] = [];
    let err: Record<string, unknown> | undefined;
    for (const arg of args) {
      if (typeof arg === "string" || typeof arg === "number" || typeof arg === "boolean") {
        words.push(truncate(String(arg)));
      } else if (arg instanceof Error && err === undefined) {
        err = describeError(arg, false);
        words.push(arg.message);
      } else if (arg !== undefined) {
        details.push(sanitize(arg));
      }
    }
    const fields: Record<string, unknown> = {};
    if (err) fields.sdkError = err;
    if (details.length > 0) fields.details = details;
    target[method](fields, words.join(" "));
  };
  const sink: SdkLogSink = {
    trace: (module, ...args) => emit("trace", module, args),
    debug: (module, ...args) => emit("trace", module, args),
    info: (module, ...args) => emit("debug", module, args),
    warn: (module, ...args) => emit("warn", module, args),
    error: (module, ...args) => emit(module === "MatrixHttpClient" ? "debug" : "error", module, args),
  };
  sdk.LogService.setLogger(sink);
  sdk.LogService.setLevel(sdkLevelFor(logger.level, sdk.LogLevel));
  return sink;
}

function sdkLevelFor<L>(level: string, levels: SdkLogging<L>["LogLevel"]): L {
  switch (level) {
    case "trace":
      return levels.TRACE;
    case "debug":
      return levels.INFO;
    case "info":
    case "warn":
      return levels.WARN;
    default:
      return levels.ERROR;
  }
}
