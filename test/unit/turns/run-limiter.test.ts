// The run limiter: at most maxConcurrent slots, at most maxPerUser for one user, first come first served except
// that a waiter at its own user's limit lets the ones behind it pass; a stopped waiter leaves the queue.
import { RunLimiter, type ReleaseSlot } from "../../../src/turns/run-limiter";

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe("RunLimiter", () => {
  it("bounds runs in total and per user, and serves the waiters in order as slots free up", async () => {
    const limiter = new RunLimiter({ maxConcurrent: 3, maxPerUser: 2 });
    const granted: string[] = [];
    const slots: Array<Promise<ReleaseSlot | undefined>> = [];
    for (const user of ["a", "a", "a", "b", "c", "b"]) {
      const slot = limiter.acquire(user);
      slots.push(slot);
      void slot.then(() => granted.push(user));
    }
    await flush();
    expect(granted).toEqual(["a", "a", "b"]); // the third "a" waits for its user, "b" passes it
    expect(limiter.inFlight).toBe(3);
    expect(limiter.waitingFor("a")).toBe(1);
    (await slots[0])?.();
    await flush();
    expect(granted).toEqual(["a", "a", "b", "a"]); // first in line, and "a" has room again
    (await slots[3])?.();
    await flush();
    expect(granted).toEqual(["a", "a", "b", "a", "c"]);
    expect(limiter.mustWait("d")).toBe(true);
  });

  it("a waiter whose run is stopped leaves the queue without a slot", async () => {
    const limiter = new RunLimiter({ maxConcurrent: 1, maxPerUser: 1 });
    const first = await limiter.acquire("a");
    const stop = new AbortController();
    const stopped = limiter.acquire("b", stop.signal);
    const next = limiter.acquire("c");
    stop.abort();
    await expect(stopped).resolves.toBeUndefined();
    first?.();
    first?.(); // releasing twice frees one slot only
    const third = await next;
    expect(limiter.inFlight).toBe(1);
    expect(limiter.mustWait("d")).toBe(true);
    third?.();
    expect(limiter.mustWait("d")).toBe(false);
  });
});
