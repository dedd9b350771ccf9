import { KeyedLock } from "../../../src/util/keyed-lock";

/** A promise the test settles by hand. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Lets every already-queued promise callback run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("KeyedLock", () => {
  it("runs work under the same key one at a time, in the order it was asked for", async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const first = gate();
    const a = lock.run("room", async () => {
      log.push("a start");
      await first.promise;
      log.push("a end");
      return "a";
    });
    const b = lock.run("room", async () => {
      log.push("b");
      return "b";
    });
    const c = lock.run("room", async () => {
      log.push("c");
      return "c";
    });
    await settle();
    expect(log).toEqual(["a start"]);
    first.open();
    await expect(Promise.all([a, b, c])).resolves.toEqual(["a", "b", "c"]);
    expect(log).toEqual(["a start", "a end", "b", "c"]);
  });

  it("runs work under different keys concurrently", async () => {
    const lock = new KeyedLock();
    const held = gate();
    const log: string[] = [];
    const one = lock.run("one", async () => {
      log.push("one start");
      await held.promise;
      log.push("one end");
    });
    const two = lock.run("two", async () => {
      log.push("two");
    });
    await two;
    expect(log).toEqual(["one start", "two"]);
    held.open();
    await one;
    expect(log).toEqual(["one start", "two", "one end"]);
  });

  it("passes a holder's error to its caller without blocking the next holder", async () => {
    const lock = new KeyedLock();
    const failing = lock.run("room", async () => {
      throw new Error("boom");
    });
    const next = lock.run("room", async () => "ran");
    await expect(failing).rejects.toThrow("boom");
    await expect(next).resolves.toBe("ran");
  });

  it("forgets a key once nothing is queued under it", async () => {
    const lock = new KeyedLock();
    const held = gate();
    const runs = [
      lock.run("a", () => held.promise),
      lock.run("a", async () => undefined),
      lock.run("b", async () => {
        throw new Error("fails");
      }),
    ];
    expect(lock.size).toBe(2);
    held.open();
    await Promise.allSettled(runs);
    await settle();
    expect(lock.size).toBe(0);
    for (let i = 0; i < 100; i += 1) await lock.run(`key-${i}`, async () => i);
    await settle();
    expect(lock.size).toBe(0);
  });
});
