// The heap a burst left is given back once the bot is idle, and never while it works (a full collection stops
// everything for ~0.1-0.25 s: a turn waiting behind it would notice). Memory figures are in the bench, not here.
import pino from "pino";
import { exposeGc, IdleCollector, loopBusyShare } from "../../../src/util/idle-gc";

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

  it("collects once more after a quiet while when the first collection left the young generation grown", () => {
    const state = { used: 50 * MB, busy: 0.9, collections: 0, slack: 2 * MB, now: 0 };
    const c = new IdleCollector({ log: pino({ level: "silent" }), growthBytes: 32 * MB, slackBytes: 16 * MB, idleUtilization: 0.05,
      settleMs: 6000, now: () => state.now, heapUsed: () => state.used, utilization: () => state.busy, heapSlack: () => state.slack,
      gc: () => {
        state.collections += 1;
        state.used = 47 * MB;
        state.slack = state.collections === 1 ? 34 * MB : 2 * MB; // V8 shrinks the young generation only the second time
      } });
    state.used = 130 * MB; // the burst
    expect(c.check()).toBe(false);
    state.busy = 0.01;
    expect(c.check()).toBe(true); // a second after the burst: the old space's garbage
    const look = (seconds: number): boolean => {
      state.now += seconds * 1000;
      return c.check();
    };
    expect(look(3)).toBe(false);
    state.busy = 0.5;
    expect(look(1)).toBe(false); // some work: the quiet while starts again
    state.busy = 0.01;
    expect(look(1)).toBe(false);
    expect(look(5)).toBe(false); // 5 s quiet
    expect(look(1.5)).toBe(true); // 6.5 s: the young generation
    expect(state.collections).toBe(2);
    for (let i = 0; i < 10; i++) expect(look(5)).toBe(false); // nothing left to give back
  });

  it("does not collect a second time when the first left little slack", () => {
    const state = { used: 50 * MB, busy: 0.01, collections: 0, afterGc: 47 * MB, now: 0 };
    const c = collector(state);
    state.used = 130 * MB;
    expect(c.check()).toBe(true);
    for (let i = 0; i < 5; i++) expect(c.check()).toBe(false);
    expect(state.collections).toBe(1);
  });

  it("on the real event loop, with its default window and interval, collects once the loop went quiet", async () => {
    const state = { used: 60 * MB, collections: 0 };
    const c = new IdleCollector({ log: pino({ level: "silent" }), heapUsed: () => state.used, heapSlack: () => 0,
      gc: () => { state.collections += 1; state.used = 60 * MB; } }).start();
    try {
      state.used = 200 * MB; // a burst's garbage
      const deadline = Date.now() + 60_000;
      while (state.collections === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(state.collections).toBe(1);
    } finally {
      c.stop();
    }
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

describe("loopBusyShare (the idle window)", () => {
  // A clock and an event loop that the test moves: `busyMs` of work, then `idleMs` waiting, per step.
  function loop(): { at: number; active: number; idle: number; step: (busyMs: number, idleMs: number) => void } {
    const l = { at: 0, active: 0, idle: 0, step: (busyMs: number, idleMs: number): void => {
      l.at += busyMs + idleMs;
      l.active += busyMs;
      l.idle += idleMs;
    } };
    return l;
  }

  it("counts the loop busy until it was watched for a whole window, then idle once the window was quiet", () => {
    const l = loop();
    const share = loopBusyShare(1000, () => ({ active: l.active, idle: l.idle }), () => l.at);
    expect(share()).toBe(1); // nothing watched yet
    l.step(0, 250);
    expect(share()).toBe(1); // 250 ms watched of 1,000
    for (let i = 0; i < 3; i++) {
      l.step(5, 245);
      share();
    }
    l.step(5, 245);
    expect(share()).toBeLessThanOrEqual(0.05); // a whole second, 2 % busy
  });

  it("looks at the last window only: a burst that ended over a window ago does not hold the collection back", () => {
    const l = loop();
    const share = loopBusyShare(1000, () => ({ active: l.active, idle: l.idle }), () => l.at);
    share();
    for (let i = 0; i < 20; i++) { // five seconds of a burst
      l.step(240, 10);
      expect(share()).toBeGreaterThan(0.9);
    }
    const afterBurst: number[] = [];
    for (let i = 0; i < 6; i++) { // then quiet
      l.step(2, 248);
      afterBurst.push(share());
    }
    expect(afterBurst.slice(0, 3).every((s) => s > 0.05)).toBe(true); // the burst is still in the window
    expect(afterBurst[3]).toBeLessThanOrEqual(0.05); // one second after it ended
  });
});
