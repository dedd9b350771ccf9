// ReadinessTracker: an idle bot asks the homeserver itself before calling it gone; store probes are cached and
// shared; a probe that hangs cannot hang /readyz.
import { ReadinessTracker } from "../../../src/http/readiness";

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
