// /readyz and inbound refusals: one refused batch (or one skipped event) never turns readiness red; only when
// every inbound batch has been refused for longer than HOMESERVER_STALE_MS does the "inbound" check fail.
import { ReadinessTracker } from "../../../src/http/readiness";

describe("ReadinessTracker: inbound", () => {
  it("fails only after every batch was refused for longer than the stale limit, and recovers on the next accepted one", async () => {
    let clock = 0;
    const tracker = new ReadinessTracker({ homeserverStaleMs: 1000, storeHealthCheck: async () => undefined,
      probeHomeserver: async () => undefined, now: () => clock });
    tracker.agentLinkState("up");
    expect((await tracker.report()).checks.inbound).toEqual({ ok: true, detail: "inbound events are accepted" });

    tracker.inboundRefused();
    clock += 900;
    tracker.inboundRefused();
    let report = await tracker.report();
    expect(report.ready).toBe(true);
    expect(report.checks.inbound).toEqual({ ok: true, detail: "every inbound batch has been refused for 1 s (limit 1000 ms)" });

    tracker.inboundAccepted(); // e.g. the poison event was skipped and the batch went through
    clock += 900;
    tracker.inboundRefused();
    clock += 900;
    expect((await tracker.report()).ready).toBe(true); // refused for 900 ms only: the clock restarted at the acceptance

    clock += 200;
    report = await tracker.report();
    expect(report.notReady).toEqual(["inbound"]);
    expect(report.checks.inbound.detail).toMatch(/^every inbound batch has been refused for 1 s \(limit 1000 ms\): nothing new is received/);

    tracker.inboundAccepted();
    expect(await tracker.report()).toMatchObject({ ready: true, notReady: [] });
  });
});
