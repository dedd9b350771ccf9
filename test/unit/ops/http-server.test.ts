// The bot's own HTTP server: /healthz, /readyz flipping with the agent link and the homeserver, /metrics as
// valid Prometheus text that counts a turn, and routes others register (body limit, JSON, bearer token).
import pino from "pino";
import { z } from "zod";
import { HttpServer, json, requireBearer } from "../../../src/http/server";
import { ReadinessTracker } from "../../../src/http/readiness";
import { Metrics, METRIC_PREFIX } from "../../../src/metrics";
import { parsePrometheusText, sampleValue } from "./prometheus-text";

class FakeLink {
  private current = "connecting";
  private readonly listeners = new Set<(s: string) => void>();
  state(): string {
    return this.current;
  }
  onStateChange(cb: (s: string) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }
  set(state: string): void {
    this.current = state;
    for (const cb of this.listeners) cb(state);
  }
}

describe("HttpServer", () => {
  let server: HttpServer;
  let base: string;
  let clock: number;
  let storeWorks: boolean;
  let link: FakeLink;
  let tracker: ReadinessTracker;
  let metrics: Metrics;

  beforeEach(async () => {
    clock = 1_000_000;
    storeWorks = true;
    link = new FakeLink();
    tracker = new ReadinessTracker({
      homeserverStaleMs: 90_000,
      storeCheckCacheMs: 1, // every report probes again
      storeHealthCheck: async () => {
        if (!storeWorks) throw new Error("store health check failed (sqlite): SQLITE_IOERR");
      },
      now: () => clock,
    });
    tracker.watchLink(link);
    metrics = new Metrics({ processMetrics: true });
    server = new HttpServer({
      host: "127.0.0.1", port: 0, bodyLimitBytes: 1024, log: pino({ level: "silent" }),
      readiness: () => tracker.report(), metrics,
    });
    const { port } = await server.start();
    base = `http://127.0.0.1:${port}`;
  });
  afterEach(async () => {
    await server.stop();
  });

  async function get(path: string): Promise<{ status: number; body: unknown; type: string | null }> {
    const res = await fetch(base + path);
    const text = await res.text();
    const type = res.headers.get("content-type");
    return { status: res.status, body: type?.includes("json") ? JSON.parse(text) : text, type };
  }

  it("answers /healthz while the process runs", async () => {
    expect(await get("/healthz")).toMatchObject({ status: 200, body: { status: "ok" } });
  });

  it("/readyz is 503 naming what is not ready, 200 once everything is, and flips back when the agent or homeserver goes", async () => {
    let ready = await get("/readyz");
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ ready: false, notReady: ["homeserver", "agent"],
      checks: { homeserver: { ok: false }, agent: { ok: false, detail: "the agent link is connecting" }, store: { ok: true }, token: { ok: true } } });

    tracker.homeserverAnswered();
    link.set("up");
    ready = await get("/readyz");
    expect(ready).toMatchObject({ status: 200, body: { ready: true, notReady: [] } });

    link.set("down");
    ready = await get("/readyz");
    expect(ready).toMatchObject({ status: 503, body: { notReady: ["agent"], checks: { agent: { detail: "the agent link is down" } } } });
    link.set("up");

    clock += 90_001; // the homeserver has not answered for longer than HOMESERVER_STALE_MS
    ready = await get("/readyz");
    expect(ready).toMatchObject({ status: 503, body: { notReady: ["homeserver"] } });
    expect(JSON.stringify(ready.body)).toContain("has not answered for 90 s");
    tracker.homeserverAnswered();
    expect((await get("/readyz")).status).toBe(200);

    storeWorks = false;
    clock += 10;
    ready = await get("/readyz");
    expect(ready).toMatchObject({ status: 503, body: { notReady: ["store"] } });
    expect(JSON.stringify(ready.body)).toContain("SQLITE_IOERR");
    storeWorks = true;
    clock += 10;

    tracker.tokenRejected("the homeserver rejected the bot's access token (M_UNKNOWN_TOKEN): run npm run login");
    ready = await get("/readyz");
    expect(ready).toMatchObject({ status: 503, body: { notReady: ["token"] } });
  });

  it("/metrics is valid Prometheus text from its own registry, and counts a turn", async () => {
    metrics.turnFinished("ok", 1.5);
    metrics.turnFinished("agent_error", 0.2);
    metrics.linkState(true);
    metrics.outboxDepth(3);
    metrics.rateLimitWaited(1500);
    metrics.commandRun("help");
    metrics.sendRetried("rate_limited");
    metrics.deadLettered();
    metrics.linkReconnected();
    metrics.inboundEvents(4);
    const res = await get("/metrics");
    expect(res.status).toBe(200);
    expect(res.type).toContain("text/plain");
    const text = parsePrometheusText(String(res.body));
    const p = METRIC_PREFIX;
    expect(sampleValue(text, `${p}turns_total`, { outcome: "ok" })).toBe(1);
    expect(sampleValue(text, `${p}turns_total`, { outcome: "agent_error" })).toBe(1);
    expect(text.types.get(`${p}turn_duration_seconds`)).toBe("histogram");
    expect(sampleValue(text, `${p}turn_duration_seconds_count`, { outcome: "ok" })).toBe(1);
    expect(sampleValue(text, `${p}turn_duration_seconds_bucket`, { outcome: "ok", le: "2" })).toBe(1);
    expect(sampleValue(text, `${p}turn_duration_seconds_bucket`, { outcome: "ok", le: "1" })).toBe(0);
    expect(sampleValue(text, `${p}agent_link_up`)).toBe(1);
    expect(sampleValue(text, `${p}outbox_pending`)).toBe(3);
    expect(sampleValue(text, `${p}rate_limit_waits_total`)).toBe(1);
    expect(sampleValue(text, `${p}rate_limit_wait_seconds_sum`)).toBe(1.5);
    expect(sampleValue(text, `${p}commands_total`, { command: "help" })).toBe(1);
    expect(sampleValue(text, `${p}send_retries_total`, { reason: "rate_limited" })).toBe(1);
    expect(sampleValue(text, `${p}dead_letters_total`)).toBe(1);
    expect(sampleValue(text, `${p}agent_reconnects_total`)).toBe(1);
    expect(sampleValue(text, `${p}inbound_events_total`)).toBe(4);
    expect(sampleValue(text, `${p}process_resident_memory_bytes`)).toBeGreaterThan(0);
    // Not the global registry: a second Metrics starts from zero.
    const other = parsePrometheusText(await new Metrics({ processMetrics: false }).text());
    expect(sampleValue(other, `${p}turns_total`, { outcome: "ok" })).toBeUndefined();
  });

  it("/metrics reads the bot's work in hand at scrape time: idle only when every kind is at zero", async () => {
    const p = METRIC_PREFIX;
    const scrape = async () => parsePrometheusText(String((await get("/metrics")).body));
    let text = await scrape();
    expect(sampleValue(text, `${p}idle`)).toBe(0); // not wired yet (still starting): never idle
    expect(sampleValue(text, `${p}work_in_flight`, { kind: "router" })).toBeUndefined();
    const work = { router: 0, turns: 0, outbox: 0 };
    metrics.watchWork(() => work);
    text = await scrape();
    expect(sampleValue(text, `${p}idle`)).toBe(1);
    expect(text.types.get(`${p}idle`)).toBe("gauge");
    for (const kind of ["router", "turns", "outbox"]) expect(sampleValue(text, `${p}work_in_flight`, { kind })).toBe(0);
    for (const kind of ["router", "turns", "outbox"] as const) {
      Object.assign(work, { router: 0, turns: 0, outbox: 0, [kind]: 2 });
      text = await scrape();
      expect(sampleValue(text, `${p}idle`)).toBe(0);
      expect(sampleValue(text, `${p}work_in_flight`, { kind })).toBe(2);
    }
    Object.assign(work, { router: 0, turns: 0, outbox: 0 });
    expect(sampleValue(await scrape(), `${p}idle`)).toBe(1);
  });

  it("collects the process metrics once per process: a bot instance leaves no event-loop timer behind", () => {
    const uvTimers = (): number =>
      (process.report.getReport() as unknown as { libuv: Array<{ type: string }> }).libuv.filter((h) => h.type === "timer").length;
    void new Metrics();
    const before = uvTimers();
    for (let i = 0; i < 20; i += 1) void new Metrics();
    expect(uvTimers()).toBe(before);
  });

  it("bounds label values so a stream of odd command names cannot grow the series without end", async () => {
    const small = new Metrics({ processMetrics: false, maxLabelValues: 2 });
    for (const name of ["help", "reset", "x1", "x2", "help"]) small.commandRun(name);
    const text = parsePrometheusText(await small.text());
    expect(sampleValue(text, `${METRIC_PREFIX}commands_total`, { command: "help" })).toBe(2);
    expect(sampleValue(text, `${METRIC_PREFIX}commands_total`, { command: "other" })).toBe(2);
  });

  it("serves registered routes with JSON parsing, a schema, a bearer token and a body limit", async () => {
    const seen: unknown[] = [];
    server.route("POST", "/proactive", async (req) => {
      requireBearer(req, "push-token");
      const body = await req.json(z.object({ messages: z.array(z.string()).min(1) }));
      seen.push(body);
      return json(202, { accepted: body.messages.length });
    });
    const post = (body: string, headers: Record<string, string> = {}) => fetch(`${base}/proactive`, {
      method: "POST", body, headers: { "content-type": "application/json", authorization: "Bearer push-token", ...headers },
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));

    expect(await post(JSON.stringify({ messages: ["hi"] }))).toEqual({ status: 202, body: { accepted: 1 } });
    // Every error answer has one shape, as Matrix's: {errcode, error}, nothing else.
    const errors = [
      [await post("{}", { authorization: "Bearer wrong" }), 401, "M_UNKNOWN_TOKEN"],
      [await post("{}", { authorization: "" }), 401, "M_MISSING_TOKEN"],
      [await post("{not json"), 400, "M_NOT_JSON"],
      [await post(JSON.stringify({ messages: [] })), 400, "M_BAD_JSON"],
      [await post(JSON.stringify({ messages: ["x".repeat(2000)] })), 413, "M_TOO_LARGE"],
      [await post("hello", { "content-type": "text/plain" }), 415, "M_NOT_JSON"],
      [await get("/proactive"), 405, "M_UNRECOGNIZED"],
      [await get("/nothing-here"), 404, "M_UNRECOGNIZED"],
    ] as const;
    for (const [answer, status, errcode] of errors) {
      expect({ status: answer.status, body: answer.body }).toEqual({ status, body: { errcode, error: expect.any(String) } });
    }
    expect(String((errors[3][0].body as { error: string }).error)).toContain("messages");
    expect(errors[0][0].body).toMatchObject({ error: "wrong bearer token" });
    expect(seen).toHaveLength(1);
    expect(() => server.route("GET", "/healthz", () => json(200, {}))).toThrow("already registered");
  });

  it("answers 500 without details when a handler throws, and 503 when the readiness check itself fails", async () => {
    server.route("GET", "/boom", () => {
      throw new Error("secret internals");
    });
    const boom = await get("/boom");
    expect(boom.status).toBe(500);
    expect(boom.body).toEqual({ errcode: "M_UNKNOWN", error: "internal error; see the bot's log" });

    const broken = new HttpServer({ host: "127.0.0.1", port: 0, bodyLimitBytes: 10, log: pino({ level: "silent" }),
      readiness: () => Promise.reject(new Error("nope")), metrics: new Metrics({ processMetrics: false }) });
    const { port } = await broken.start();
    const res = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ ready: false, errcode: "M_UNKNOWN", error: expect.stringContaining("readiness check") });
    await broken.stop();
  });

  it("says which address is taken when HTTP_BIND is in use", async () => {
    const port = Number(new URL(base).port);
    const second = new HttpServer({ host: "127.0.0.1", port, bodyLimitBytes: 10, log: pino({ level: "silent" }),
      readiness: () => tracker.report(), metrics: new Metrics({ processMetrics: false }) });
    await expect(second.start()).rejects.toThrow(`cannot listen on 127.0.0.1:${port} (HTTP_BIND): the address is already in use`);
  });
});
