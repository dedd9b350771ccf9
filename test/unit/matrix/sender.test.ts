// The sender's retry budget: 5xx and network failures use up SEND_MAX_ATTEMPTS, but a 429 is the homeserver
// pacing the bot, so sustained rate limiting delays a message (never sooner than retry_after_ms) instead of
// dropping it; only rateLimitMaxWaitMs bounds it.
import pino from "pino";
import { MatrixRequestError, normalizeMatrixError } from "../../../src/matrix/errors";
import { createMatrixHttp, type MatrixHttp } from "../../../src/matrix/http";
import { parseRetryAfter } from "../../../src/matrix/retry-after";
import { startHomeserver } from "../../support/homeserver";
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

  it("honours a Retry-After header on a JSON 429 that carries no retry_after_ms (Matrix v1.10+), over real HTTP", async () => {
    const hs = await startHomeserver();
    try {
      const bot = hs.addUser("bot");
      const roomId = hs.createRoom(bot.userId);
      const matrix = createMatrixHttp({ homeserverUrl: hs.url, accessToken: bot.accessToken, requestTimeoutMs: 5000 });
      hs.failNext({ pathIncludes: "/send/" }, { status: 429, errcode: "M_LIMIT_EXCEEDED", retry_after_ms: 1000, retryAfterIn: "header" });
      const waits: number[] = [];
      const result = await sender(matrix, { retryMaxMs: 10, onRateLimited: (ms) => waits.push(ms) })
        .sendEvent(roomId, "m.room.message", { msgtype: "m.text", body: "paced" }, "t4");
      expect(result).toMatchObject({ ok: true, attempts: 2 });
      const tries = hs.requests.filter((r) => r.path.includes("/send/"));
      expect(tries.map((r) => r.status)).toEqual([429, 200]);
      expect((tries[1]?.at ?? 0) - (tries[0]?.at ?? 0)).toBeGreaterThanOrEqual(1000); // not the 10 ms backoff
      expect(waits).toHaveLength(1);
      expect(waits[0]).toBeGreaterThan(1000);
    } finally {
      await hs.close();
    }
  });

  it("reads Retry-After as seconds or an HTTP date; retry_after_ms, exact, goes first when both are sent", () => {
    expect(parseRetryAfter("3")).toBe(3000);
    expect(parseRetryAfter(new Date(10_000 + 5000).toUTCString(), 10_000)).toBe(5000);
    expect(parseRetryAfter("soon")).toBeUndefined();
    const both = { statusCode: 429, headers: { "retry-after": "1" }, body: { error: "slow down", retry_after_ms: 500 } };
    expect(normalizeMatrixError(both, "send").retryAfterMs).toBe(500);
    const headerOnly = { statusCode: 429, headers: { "retry-after": "2" }, body: "<html>Too Many Requests</html>" };
    expect(normalizeMatrixError(headerOnly, "send").retryAfterMs).toBe(2000);
  });
});
