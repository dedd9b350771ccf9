// A per-key serializing lock: work under the same key runs one at a time, in the order it was asked for;
// work under different keys runs concurrently. A failing holder does not block the next one. A key's entry
// is dropped once nothing is queued under it, so the map never outgrows the keys in use.

export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `work` once every earlier holder of `key` has settled; resolves or rejects as `work` does. */
  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const next = previous.then(work, work);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }

  /** How many keys have work queued or running (0 when idle). */
  get size(): number {
    return this.tails.size;
  }
}
