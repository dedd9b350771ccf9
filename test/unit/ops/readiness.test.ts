// ReadinessTracker: an idle bot asks the homeserver itself before calling it gone; store probes are cached and
// shared; a probe that hangs cannot hang /readyz.
import { observeHomeserver, whoamiProbe } from "../../../src/http/homeserver-watch";
import { ReadinessTracker } from "../../../src/http/readiness";
import { createMatrixHttp } from "../../../src/matrix/http";
import { routeSdkLogsInto } from "../../../src/matrix/sdk";
import pino from "pino";
import { Metrics, METRIC_PREFIX } from "../../../src/metrics";
import { startHomeserver } from "../../support/homeserver";
import { parsePrometheusText, sampleValue } from "./prometheus-text";

describe("ReadinessTracker", () => {
  it("probes the homeserver when it has been quiet for half the stale limit, and only then", async () => {
    let clock = 0;
    let probes = 0;
    let homeserverUp = true;
    const tracker = new ReadinessTracker({
      homeserverStaleMs: 1000,
      storeHealthCheck: async () => undefined,
      probeHomeserver: async () => {
        probes += 1;
        if (!homeserverUp) throw new Error("ECONNREFUSED");
      },
      now: () => clock,
    });
    tracker.agentLinkState("up");

    expect((await tracker.report()).ready).toBe(true); // never answered: the probe answers
    expect(probes).toBe(1);
    clock += 400;
    expect((await tracker.report()).ready).toBe(true);
    expect(probes).toBe(1); // answered 400 ms ago: no probe

    clock += 200;
    await Promise.all([tracker.report(), tracker.report(), tracker.report()]);
    expect(probes).toBe(2); // one probe shared by concurrent reports

    homeserverUp = false;
    clock += 1001;
    const report = await tracker.report();
    expect(report.notReady).toEqual(["homeserver"]);
    expect(report.checks.homeserver.detail).toMatch(/has not answered for 1 s/);
  });

  it("caches the store check and shares one probe between concurrent reports", async () => {
    let clock = 0;
    let checks = 0;
    const tracker = new ReadinessTracker({
      homeserverStaleMs: 1000,
      storeCheckCacheMs: 5000,
      storeHealthCheck: async () => {
        checks += 1;
      },
      now: () => clock,
    });
    await Promise.all([tracker.report(), tracker.report()]);
    expect(checks).toBe(1);
    clock += 4999;
    await tracker.report();
    expect(checks).toBe(1);
    clock += 2;
    await tracker.report();
    expect(checks).toBe(2);
  });

  it("reports a store probe that never answers as not working after probeTimeoutMs", async () => {
    const tracker = new ReadinessTracker({
      homeserverStaleMs: 1000,
      probeTimeoutMs: 20,
      storeHealthCheck: () => new Promise<void>(() => undefined),
    });
    tracker.homeserverAnswered();
    tracker.agentLinkState("up");
    const report = await tracker.report();
    expect(report.notReady).toEqual(["store"]);
    expect(report.checks.store.detail).toContain("no answer within 20 ms");
  });

  it("is ready again once a rejected token is accepted", async () => {
    const tracker = new ReadinessTracker({ homeserverStaleMs: 1000, storeHealthCheck: async () => undefined });
    tracker.homeserverAnswered();
    tracker.agentLinkState("up");
    tracker.tokenRejected();
    expect((await tracker.report()).notReady).toEqual(["token"]);
    tracker.tokenAccepted();
    expect((await tracker.report()).ready).toBe(true);
  });
});

describe("readiness from the bot's own traffic", () => {
  beforeAll(() => routeSdkLogsInto(pino({ level: "silent" })));
  it("marks the homeserver alive on every answer, and the token rejected on M_UNKNOWN_TOKEN", async () => {
    const hs = await startHomeserver({ serverName: "localhost" });
    try {
      const bot = hs.addUser("bot");
      let clock = 0;
      const tracker = new ReadinessTracker({ homeserverStaleMs: 1000, storeHealthCheck: async () => undefined, now: () => clock });
      tracker.agentLinkState("up");
      const http = observeHomeserver(createMatrixHttp({ homeserverUrl: hs.url, accessToken: bot.accessToken, requestTimeoutMs: 2000 }),
        tracker, "run npm run login");
      await http.request("GET", "/_matrix/client/v3/account/whoami");
      expect((await tracker.report()).ready).toBe(true);

      hs.revokeToken(bot.accessToken);
      clock += 2000;
      await expect(http.request("GET", "/_matrix/client/v3/account/whoami")).rejects.toThrow();
      const report = await tracker.report();
      expect(report.notReady).toEqual(["token"]); // it answered (401), so the homeserver itself is fine
      expect(report.checks.token.detail).toBe("the homeserver rejected the bot's access token (M_UNKNOWN_TOKEN): run npm run login");
    } finally {
      await hs.close();
    }
  });

  it("probes with whoami when idle, and reports the homeserver gone when the probe cannot reach it", async () => {
    const hs = await startHomeserver({ serverName: "localhost" });
    const bot = hs.addUser("bot");
    let clock = 0;
    const tracker: ReadinessTracker = new ReadinessTracker({
      homeserverStaleMs: 1000, storeHealthCheck: async () => undefined, now: () => clock,
      probeHomeserver: () => probe(),
    });
    const http = observeHomeserver(createMatrixHttp({ homeserverUrl: hs.url, accessToken: bot.accessToken, requestTimeoutMs: 2000 }), tracker);
    const probe = whoamiProbe(http);
    tracker.agentLinkState("up");
    expect((await tracker.report()).ready).toBe(true);
    await hs.close();
    clock += 1001;
    const report = await tracker.report();
    expect(report.notReady).toEqual(["homeserver"]);
  });

  it("is not ready once shutdown began", async () => {
    const tracker = new ReadinessTracker({ homeserverStaleMs: 1000, storeHealthCheck: async () => undefined });
    tracker.homeserverAnswered();
    tracker.agentLinkState("up");
    tracker.stopping();
    expect(await tracker.report()).toMatchObject({ ready: false, notReady: [], stopping: true });
  });
});

describe("Metrics.watchLink", () => {
  it("follows the link state and counts every connection attempt after the first", async () => {
    let state = "connecting";
    const listeners: Array<(s: string) => void> = [];
    const link = { state: () => state, onStateChange: (cb: (s: string) => void) => (listeners.push(cb), () => undefined) };
    const metrics = new Metrics({ processMetrics: false });
    metrics.watchLink(link);
    for (const next of ["up", "down", "connecting", "down", "connecting", "up"]) {
      state = next;
      for (const cb of listeners) cb(next);
    }
    const text = parsePrometheusText(await metrics.text());
    expect(sampleValue(text, `${METRIC_PREFIX}agent_link_up`)).toBe(1);
    expect(sampleValue(text, `${METRIC_PREFIX}agent_reconnects_total`)).toBe(2);
  });
});
