// ReadinessTracker with several agents: each one's link state is in the report (`agents`, the global default first),
// the others that are not up are named in the agent check's detail, and only the global default decides readiness.
import { ReadinessTracker, type WatchableLink } from "../../../src/http/readiness";

function link(initial: string): WatchableLink & { set(state: string): void } {
  let state = initial;
  const listeners = new Set<(s: string) => void>();
  return {
    state: () => state,
    onStateChange: (cb) => (listeners.add(cb), () => listeners.delete(cb)),
    set: (next) => {
      state = next;
      for (const cb of listeners) cb(next);
    },
  };
}

it("reports every agent's link; only the global default's decides the agent check", async () => {
  const tracker = new ReadinessTracker({ homeserverStaleMs: 1000, storeHealthCheck: async () => undefined, probeHomeserver: async () => undefined });
  const main = link("up");
  const coder = link("connecting");
  tracker.watchLink(main, "support");
  tracker.watchOtherLink("coder", coder);
  let report = await tracker.report();
  expect(report.ready).toBe(true);
  expect(report.agents).toEqual({ support: "up", coder: "connecting" });
  expect(report.checks.agent).toEqual({ ok: true, detail: "the agent link is up; of the other agents, coder is connecting" });

  coder.set("up");
  main.set("down");
  report = await tracker.report();
  expect(report.ready).toBe(false);
  expect(report.notReady).toEqual(["agent"]);
  expect(report.agents).toEqual({ support: "down", coder: "up" });
  expect(report.checks.agent).toEqual({ ok: false, detail: "the agent link is down" });
});

it("with one agent, the report has no agents list", async () => {
  const tracker = new ReadinessTracker({ homeserverStaleMs: 1000, storeHealthCheck: async () => undefined, probeHomeserver: async () => undefined });
  tracker.watchLink(link("up"));
  expect((await tracker.report()).agents).toBeUndefined();
});
