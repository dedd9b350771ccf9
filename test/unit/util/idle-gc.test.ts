// The heap a burst left is given back once the bot is idle, and never while it works (a full collection stops
// everything for ~0.1-0.25 s: a turn waiting behind it would notice). Memory figures are in the bench, not here.
import pino from "pino";
import { exposeGc, IdleCollector } from "../../../src/util/idle-gc";

const MB = 1024 * 1024;

function collector(state: { used: number; busy: number; collections: number; afterGc: number; slack?: number }): IdleCollector {
  return new IdleCollector({
    log: pino({ level: "silent" }), growthBytes: 32 * MB, slackBytes: 16 * MB, idleUtilization: 0.05,
    heapUsed: () => state.used, utilization: () => state.busy, heapSlack: () => state.slack ?? 0,
    gc: () => {
      state.collections += 1;
      state.used = state.afterGc;
      state.slack = 2 * MB; // compacted
    },
  });
}

describe("IdleCollector", () => {
  it("collects once after a burst when the event loop went idle, not again until the heap grows again", () => {
    const state = { used: 60 * MB, busy: 0.9, collections: 0, afterGc: 60 * MB };
    const c = collector(state);
    state.used = 200 * MB; // the burst
    expect(c.check()).toBe(false); // still busy
    state.busy = 0.01;
    expect(c.check()).toBe(true);
    expect(state.collections).toBe(1);
    expect(c.check()).toBe(false); // nothing grew since
    state.used = 80 * MB;
    expect(c.check()).toBe(false); // less than the growth worth a collection
    state.used = 100 * MB;
    expect(c.check()).toBe(true);
    expect(state.collections).toBe(2);
  });

  it("leaves the heap to V8 while the bot works, however much it grew", () => {
    const state = { used: 60 * MB, busy: 0.5, collections: 0, afterGc: 60 * MB };
    const c = collector(state);
    for (const used of [100, 300, 500]) {
      state.used = used * MB;
      expect(c.check()).toBe(false);
    }
    expect(state.collections).toBe(0);
  });

  it("counts growth from what V8 collected on its own", () => {
    const state = { used: 150 * MB, busy: 0.01, collections: 0, afterGc: 60 * MB };
    const c = collector(state);
    state.used = 70 * MB; // V8 collected by itself: the new baseline
    expect(c.check()).toBe(false);
    state.used = 110 * MB;
    expect(c.check()).toBe(true);
  });

  it("compacts pages V8 emptied by itself but kept (heap committed and unused), once idle", () => {
    const state = { used: 60 * MB, busy: 0.5, collections: 0, afterGc: 50 * MB, slack: 4 * MB };
    const c = collector(state);
    state.used = 50 * MB; // V8 collected the burst's garbage by itself...
    state.slack = 130 * MB; // ...and kept its pages
    expect(c.check()).toBe(false); // busy
    state.busy = 0.01;
    expect(c.check()).toBe(true);
    expect(c.check()).toBe(false); // compacted: nothing more to give back
    state.slack = 12 * MB;
    expect(c.check()).toBe(false); // less than worth a collection
    expect(state.collections).toBe(1);
  });

  it("obtains V8's full collector without the --expose-gc flag; it frees garbage", async () => {
    const gc = exposeGc();
    expect(typeof gc).toBe("function");
    const ref = new WeakRef(Array.from({ length: 1000 }, (_, i) => ({ i })));
    await new Promise((resolve) => setImmediate(resolve)); // a WeakRef keeps its target until the current job ends
    gc?.();
    expect(ref.deref()).toBeUndefined();
  });
});
