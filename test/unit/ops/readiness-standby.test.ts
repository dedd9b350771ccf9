// /readyz of a standby (issue 30): not ready, and it says why (`standby: true`), so monitors tell a standby from a
// process that is stuck starting; once it holds the lease and has started, the checks alone decide.
import { ReadinessTracker } from "../../../src/http/readiness";

describe("ReadinessTracker of a standby", () => {
  it("reports a waiting standby as not ready with standby: true, and drops it once the process took over and started", async () => {
    const tracker = new ReadinessTracker({ homeserverStaleMs: 60_000, storeHealthCheck: async () => undefined, probeHomeserver: async () => undefined });
    tracker.agentLinkState("up");
    tracker.starting();
    expect(await tracker.report()).not.toHaveProperty("standby"); // starting, not (yet) known to be a standby
    tracker.standingBy(true);
    expect(await tracker.report()).toMatchObject({ ready: false, starting: true, standby: true });
    tracker.standingBy(false); // it holds the lease now, and recovers
    expect(await tracker.report()).not.toHaveProperty("standby");
    tracker.started();
    expect(await tracker.report()).toMatchObject({ ready: true });
  });
});
