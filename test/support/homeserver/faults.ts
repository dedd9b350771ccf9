// Faults tests inject: scripted error replies (failNext), periodic ones for a while (failEvery: every n-th
// matching request until a deadline, e.g. 429 on half the sends for 10 s), replies given after the request
// was handled (the homeserver committed it, the answer was lost), held /send responses and a concurrency
// gauge for PUT /send.

export interface FaultMatch {
  method?: string;
  /** Matched against the decoded path and the raw (percent-encoded) path. */
  pathIncludes?: string;
  /** The authenticated (effective) user of the request. */
  userId?: string;
}

/** A scripted error reply; without errcode the body is `body` (default an HTML error page), as a proxy would send. */
export interface ErrorReply {
  status: number;
  errcode?: string;
  error?: string;
  /** The delay before a retry: `Retry-After` header (whole seconds, rounded up) and/or `retry_after_ms` in the body. */
  retry_after_ms?: number;
  /** Where the delay goes. Default "both"; "header" is a homeserver on Matrix v1.10+, where the body field is deprecated. */
  retryAfterIn?: "header" | "body" | "both";
  body?: string;
}

export type FaultReply = (
  | ErrorReply
  /** Close the connection without any response (a network error for the client). */
  | { dropConnection: true }
) & {
  /** Handle the request first (its effect is committed), then answer this instead: a reply lost on the way back. */
  afterHandling?: boolean;
};

/** failEvery: every `every`-th matching request (the 1st, the (1+every)-th, ...) until `untilMs` (Date.now()). */
export interface PeriodicFault {
  every: number;
  untilMs: number;
}

interface Rule {
  match: FaultMatch;
  reply: FaultReply;
  remaining: number;
  periodic?: PeriodicFault & { seen: number };
}

export interface InFlightGauge {
  current: number;
  max: number;
}

export class Faults {
  private readonly rules: Rule[] = [];
  readonly inFlight: InFlightGauge = { current: 0, max: 0 };
  sendDelayMs = 0;
  private readonly sleepers = new Set<() => void>();

  add(match: FaultMatch, reply: FaultReply, times: number): void {
    this.rules.push({ match, reply, remaining: times });
  }

  addPeriodic(match: FaultMatch, reply: FaultReply, periodic: PeriodicFault): void {
    if (!Number.isInteger(periodic.every) || periodic.every < 1) throw new RangeError("failEvery: every must be a positive integer");
    this.rules.push({ match, reply, remaining: 1, periodic: { ...periodic, seen: 0 } });
  }

  /** The first rule matching this request, consumed once (a periodic rule: counted, firing every n-th time). */
  take(method: string, path: string, rawPath: string, userId: string | undefined): FaultReply | undefined {
    for (const rule of this.rules) {
      if (rule.remaining <= 0) continue;
      const { match } = rule;
      if (match.method !== undefined && match.method.toUpperCase() !== method) continue;
      if (match.pathIncludes !== undefined && !path.includes(match.pathIncludes) && !rawPath.includes(match.pathIncludes)) continue;
      if (match.userId !== undefined && match.userId !== userId) continue;
      if (rule.periodic) {
        if (Date.now() >= rule.periodic.untilMs) {
          rule.remaining = 0; // the window is over
          continue;
        }
        const nth = rule.periodic.seen++;
        if (nth % rule.periodic.every !== 0) continue;
        return rule.reply;
      }
      rule.remaining -= 1;
      return rule.reply;
    }
    return undefined;
  }

  /** Rules not yet used up. */
  get pendingFaults(): number {
    return this.rules.reduce((n, r) => n + (r.remaining > 0 && (!r.periodic || Date.now() < r.periodic.untilMs) ? 1 : 0), 0);
  }

  clear(): void {
    this.rules.length = 0;
  }

  enterSend(): void {
    this.inFlight.current += 1;
    this.inFlight.max = Math.max(this.inFlight.max, this.inFlight.current);
  }

  leaveSend(): void {
    this.inFlight.current -= 1;
  }

  resetInFlight(): void {
    this.inFlight.max = this.inFlight.current;
  }

  /** A delay released early when the double closes. */
  sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.sleepers.add(done);
    });
  }

  close(): void {
    for (const done of [...this.sleepers]) done();
  }
}

export function faultBody(reply: ErrorReply): { body: string; contentType: string; headers: Record<string, string> } {
  const headers: Record<string, string> = {};
  const where = reply.retryAfterIn ?? "both";
  if (reply.retry_after_ms !== undefined && where !== "body") headers["retry-after"] = String(Math.ceil(reply.retry_after_ms / 1000));
  if (reply.errcode === undefined) {
    const body = reply.body ?? `<html><head><title>${reply.status}</title></head><body><h1>${reply.status}</h1></body></html>`;
    return { body, contentType: "text/html", headers };
  }
  const json: Record<string, unknown> = { errcode: reply.errcode, error: reply.error ?? defaultErrorText(reply.errcode) };
  if (reply.retry_after_ms !== undefined && where !== "header") json["retry_after_ms"] = reply.retry_after_ms;
  if (reply.errcode === "M_UNKNOWN_TOKEN") json["soft_logout"] = false;
  return { body: JSON.stringify(json), contentType: "application/json", headers };
}

function defaultErrorText(errcode: string): string {
  switch (errcode) {
    case "M_LIMIT_EXCEEDED":
      return "Too Many Requests";
    case "M_FORBIDDEN":
      return "Forbidden";
    case "M_UNKNOWN_TOKEN":
      return "Unknown access token";
    default:
      return "Internal server error";
  }
}
