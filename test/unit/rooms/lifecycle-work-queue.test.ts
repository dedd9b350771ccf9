// The bounded background queue the space follower uses: concurrency, bound, dedupe, fairness between groups.
import pino from "pino";
import { FairWorkQueue } from "../../../src/rooms/lifecycle/work-queue";

const log = pino({ level: "silent" });

function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

describe("FairWorkQueue", () => {
  it("runs at most `concurrency` tasks at once and refuses work beyond `maxQueued`", async () => {
    const q = new FairWorkQueue({ concurrency: 2, maxQueued: 3, log, name: "t" });
    const g = gate();
    let running = 0;
    let peak = 0;
    const task = async (): Promise<void> => {
      running += 1;
      peak = Math.max(peak, running);
      await g.wait;
      running -= 1;
    };
    const results = Array.from({ length: 7 }, (_, i) => q.add("space", `k${i}`, task));
    expect(results).toEqual(["queued", "queued", "queued", "queued", "queued", "full", "full"]);
    g.open();
    await q.idle();
    expect(peak).toBe(2);
  });

  it("runs each key once while it is queued or running", async () => {
    const q = new FairWorkQueue({ concurrency: 1, maxQueued: 10, log, name: "t" });
    const ran: string[] = [];
    expect(q.add("g", "same", async () => void ran.push("first"))).toBe("queued");
    expect(q.add("g", "same", async () => void ran.push("second"))).toBe("duplicate");
    await q.idle();
    expect(q.add("g", "same", async () => void ran.push("third"))).toBe("queued"); // done: may run again
    await q.idle();
    expect(ran).toEqual(["first", "third"]);
  });

  it("lets groups take turns, so a small group is not stuck behind a huge one", async () => {
    const q = new FairWorkQueue({ concurrency: 1, maxQueued: 1000, log, name: "t" });
    const order: string[] = [];
    const g = gate();
    q.add("huge", "blocker", () => g.wait);
    for (let i = 0; i < 100; i++) q.add("huge", `h${i}`, async () => void order.push(`h${i}`));
    q.add("small", "s0", async () => void order.push("s0"));
    q.add("small", "s1", async () => void order.push("s1"));
    g.open();
    await q.idle();
    expect(order.indexOf("s0")).toBeLessThan(3);
    expect(order.indexOf("s1")).toBeLessThan(5);
  });

  it("logs a failing task and goes on; stop drops what waits", async () => {
    const q = new FairWorkQueue({ concurrency: 1, maxQueued: 10, log, name: "t" });
    const ran: string[] = [];
    q.add("g", "bad", async () => {
      throw new Error("boom");
    });
    q.add("g", "good", async () => void ran.push("good"));
    await q.idle();
    expect(ran).toEqual(["good"]);
    const g = gate();
    q.add("g", "slow", () => g.wait);
    q.add("g", "never", async () => void ran.push("never"));
    const stopped = q.stop();
    g.open();
    await stopped;
    expect(ran).toEqual(["good"]);
    expect(q.add("g", "late", async () => undefined)).toBe("stopped");
  });
});
