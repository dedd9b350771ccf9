// Identical log lines are rate-limited, so a flood (malformed events, a stranger's messages, a failing homeserver)
// cannot write unbounded log volume: a debug, trace, warn or error line is written at most once per window for the
// same level, module, message and key fields; the next one after the window carries `repeated`, the number left
// out. Key fields are every field except the values of those that differ per item (event, transaction and run ids,
// attempts, timings, counts and error texts), which count only by whether they are there. info lines (the narrative of what the bot did) and fatal lines are never held
// back.
import pino, { type LogFn, type Logger } from "pino";

/** Fields that name one item of a flood rather than what happened; they do not make lines different. */
const PER_ITEM_FIELDS = new Set([
  "eventId", "txnId", "runId", "seq", "lastSeen", "index", "attempt", "attempts", "failures", "retryInMs", "waitMs", "ms",
  "count", "err", "error", "sdkError", "details", "time", "messageId",
]);
/** pino's numeric levels that are rate-limited: trace 10, debug 20, warn 40, error 50. */
const LIMITED_LEVELS = new Set([10, 20, 40, 50]);
/** Distinct lines remembered at most; beyond it the oldest are forgotten (their next line is written). */
const MAX_KEYS = 10_000;
const MAX_KEY_LENGTH = 1_000;

interface Seen {
  until: number;
  repeated: number;
}

export class LogRepeats {
  private readonly seen = new Map<string, Seen>();

  constructor(private readonly windowMs: number, private readonly now: () => number = Date.now) {}

  /** pino's `hooks.logMethod`: writes the line, or counts it as a repeat. */
  hook(): (this: Logger, args: Parameters<LogFn>, method: LogFn, level: number) => void {
    const repeats = this;
    return function logMethod(this: Logger, args, method, level) {
      if (repeats.windowMs <= 0 || !LIMITED_LEVELS.has(level)) return method.apply(this, args);
      const [first, ...rest] = args as unknown[];
      const fields = typeof first === "object" && first !== null && !(first instanceof Error) ? first as Record<string, unknown> : undefined;
      const msg = fields ? rest[0] : first;
      const key = keyOf(level, (this as unknown as Record<symbol, unknown>)[pino.symbols.chindingsSym], msg, fields);
      const repeated = repeats.check(key);
      if (repeated === undefined) return undefined;
      if (repeated === 0) return method.apply(this, args);
      return method.apply(this, [{ ...fields, repeated }, ...(fields ? rest : [first, ...rest])] as Parameters<LogFn>);
    };
  }

  /** undefined: hold it back; else write it, with how many identical lines were held back since the last one. */
  private check(key: string): number | undefined {
    const now = this.now();
    const seen = this.seen.get(key);
    if (seen && now < seen.until) {
      seen.repeated += 1;
      return undefined;
    }
    this.seen.delete(key); // re-inserted last: the map's order is the order of last writes
    this.seen.set(key, { until: now + this.windowMs, repeated: 0 });
    if (this.seen.size > MAX_KEYS) {
      const oldest = this.seen.keys().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    return seen?.repeated ?? 0;
  }
}

function keyOf(level: number, bindings: unknown, msg: unknown, fields: Record<string, unknown> | undefined): string {
  const parts: unknown[] = [level, bindings ?? "", typeof msg === "string" ? msg : ""];
  // Per-item fields count by name only: a line with a run id and one without are different lines.
  if (fields) for (const [name, value] of Object.entries(fields)) parts.push(name, PER_ITEM_FIELDS.has(name) || value === undefined ? value !== undefined : value);
  let key: string;
  try {
    key = JSON.stringify(parts);
  } catch {
    key = parts.slice(0, 3).join("\u0000");
  }
  return key.length > MAX_KEY_LENGTH ? key.slice(0, MAX_KEY_LENGTH) : key;
}
