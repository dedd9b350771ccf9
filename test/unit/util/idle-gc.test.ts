// The heap a burst left is given back once the bot is idle, and never while it works (a full collection stops
// everything for ~0.1-0.25 s: a turn waiting behind it would notice). Memory figures are in the bench, not here.
import pino from "pino";
import { exposeGc, IdleCollector } from "../../../src/util/idle-gc";

const MB = 1024 * 1024;

interface Heap { used: number; busy: number; collections: number; afterGc: number; committed?: number; committedAfterGc?: number[] }

function collector(state: Heap): IdleCollector {
  return new IdleCollector({
    log: pino({ level: "silent" }), growthBytes: 32 * MB, idleUtilization: 0.05, followUps: 3,
    heapUsed: () => state.used, heapCommitted: () => state.committed ?? state.used, utilization: () => state.busy,
    gc: () => {
      state.collections += 1;
      state.used = state.afterGc;
      state.committed = state.committedAfterGc?.shift() ?? state.afterGc;
    },
  });
}

describe("IdleCollector", () => {
  it("collects after a burst once the event loop went idle, not again until the heap grows again", () => {
    const state = { used: 60 * MB, busy: 0.9, collections: 0, afterGc: 60 * MB };
    const c = collector(state);
    state.used = 200 * MB; // the burst
    expect(c.check()).toBe(false); // still busy
    state.busy = 0.01;
    expect(c.check()).toBe(true);
    expect(state.collections).toBe(1);
    expect(c.check()).toBe(true); // one follow-up: the first gave back 140 MB of committed heap
    expect(c.check()).toBe(false); // the follow-up gave nothing back, and nothing grew since
    state.used = 80 * MB;
    expect(c.check()).toBe(false); // less than the growth worth a collection
    state.used = 100 * MB;
    expect(c.check()).toBe(true);
    expect(state.collections).toBe(3);
  });

  it("follows a collection up while each gives back committed heap (at most followUps), then stops", () => {
    const state: Heap = { used: 60 * MB, busy: 0.01, collections: 0, afterGc: 60 * MB, committed: 60 * MB };
    const c = collector(state);
    state.used = 200 * MB;
    state.committed = 250 * MB;
    state.committedAfterGc = [200 * MB, 150 * MB, 148 * MB, 100 * MB];
    expect(c.check()).toBe(true); // 250 → 200 MB committed
    expect(c.check()).toBe(true); // 200 → 150: a follow-up
    expect(c.check()).toBe(true); // 150 → 148: gave back too little, so the last one
    expect(c.check()).toBe(false);
    expect(state.collections).toBe(3);
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

  it("obtains V8's full collector without the --expose-gc flag", () => {
    const gc = exposeGc();
    expect(typeof gc).toBe("function");
    expect(() => gc?.()).not.toThrow();
  });
});
