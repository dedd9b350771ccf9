// The sender's retry budget: 5xx and network failures use up SEND_MAX_ATTEMPTS, but a 429 is the homeserver
// pacing the bot, so sustained rate limiting delays a message (never sooner than retry_after_ms) instead of
// dropping it; only rateLimitMaxWaitMs bounds it.
import pino from "pino";
import { MatrixRequestError } from "../../../src/matrix/errors";
import type { MatrixHttp } from "../../../src/matrix/http";
import { MatrixSender, type SenderOptions } from "../../../src/matrix/sender";

type Outcome = MatrixRequestError | "ok";

function http(outcomes: Outcome[]): MatrixHttp & { times: number[] } {
  const fake = {
    times: [] as number[],
    async request<T>(): Promise<T> {
      const outcome = outcomes[fake.times.length] ?? "ok";
      fake.times.push(Date.now());
      if (outcome !== "ok") throw outcome;
      return { event_id: "$sent" } as T;
    },
  };
  return fake;
}

const limited = (retryAfterMs: number): MatrixRequestError =>
  new MatrixRequestError("rate_limited", 429, "M_LIMIT_EXCEEDED", "Too Many Requests", retryAfterMs);
const server = (): MatrixRequestError => new MatrixRequestError("server", 502, undefined, "HTTP 502", undefined);

function sender(hs: MatrixHttp, opts: Partial<SenderOptions> = {}): MatrixSender {
  return new MatrixSender(hs, {
    userId: "@bot:example.org", retryBaseMs: 1, retryMaxMs: 4, maxAttempts: 3, onTokenRejected: () => undefined, ...opts,
  }, pino({ level: "silent" }));
}

describe("MatrixSender retries", () => {
  it("rides out more 429s than SEND_MAX_ATTEMPTS, each retry no sooner than retry_after_ms", async () => {
    const hs = http([limited(20), limited(20), limited(20), limited(20), limited(20), "ok"]);
    const result = await sender(hs).sendEvent("!r:example.org", "m.room.message", { body: "hi" }, "t1");
    expect(result).toMatchObject({ ok: true, attempts: 6 });
    for (let i = 1; i < hs.times.length; i++) expect((hs.times[i] ?? 0) - (hs.times[i - 1] ?? 0)).toBeGreaterThanOrEqual(20);
  });

  it("still gives up after SEND_MAX_ATTEMPTS server errors, 429s in between not counted", async () => {
    const hs = http([server(), limited(5), server(), limited(5), server(), "ok"]);
    const result = await sender(hs).sendEvent("!r:example.org", "m.room.message", { body: "hi" }, "t2");
    expect(result).toMatchObject({ ok: false, permanent: false, attempts: 5 });
    expect(result.ok === false && result.error.kind).toBe("server");
  });

  it("gives up when the time waited on 429s would pass rateLimitMaxWaitMs", async () => {
    const hs = http(Array.from({ length: 10 }, () => limited(30)));
    const result = await sender(hs, { rateLimitMaxWaitMs: 100 }).sendEvent("!r:example.org", "m.room.message", { body: "hi" }, "t3");
    expect(result).toMatchObject({ ok: false, permanent: false });
    expect(hs.times.length).toBe(4); // three waits of 30+ ms fit in 100 ms, the fourth would not
  });
});
