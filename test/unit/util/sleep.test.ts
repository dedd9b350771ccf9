// Many waits on one long-lived signal (the sender's stop, with up to SEND_CONCURRENCY sends waiting on rate limits)
// must not add a listener each: Node warns past 10 per EventTarget (MaxListenersExceededWarning, seen in the fault
// suite). They share one.
import { getEventListeners } from "node:events";
import { sleep } from "../../../src/util/timers";

describe("sleep on a shared signal", () => {
  it("lets 100 concurrent waits share one abort listener, and aborts them all", async () => {
    const stop = new AbortController();
    const finished = await Promise.all(Array.from({ length: 50 }, () => sleep(1, stop.signal)));
    expect(finished.every((ok) => ok)).toBe(true);
    const waits = Array.from({ length: 100 }, () => sleep(60_000, stop.signal));
    expect(getEventListeners(stop.signal, "abort")).toHaveLength(1);
    stop.abort();
    expect(await Promise.all(waits)).toEqual(Array.from({ length: 100 }, () => false));
    expect(await sleep(1, stop.signal)).toBe(false); // already aborted
    expect(getEventListeners(stop.signal, "abort")).toHaveLength(0);
  });
});
