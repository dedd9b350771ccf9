// Test support: a KeyvStoreAdapter that delegates to a real one and fails or slows down on demand.
//   let faulty!: FaultyStoreAdapter;
//   const store = await openStore("sqlite://:memory:", { logger, wrapAdapter: (a) => (faulty = new FaultyStoreAdapter(a)) });
//   faulty.failNext("set");      // the next write rejects
//   faulty.failAll(true);        // store outage until failAll(false)
import { EventEmitter } from "node:events";
import type { KeyvStoreAdapter, StoredData } from "keyv";

export type StoreOp = "get" | "set" | "delete";
export type FaultTarget = StoreOp | "any";

/** Thrown by injected faults unless the test supplies its own error. */
export class InjectedStoreFault extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InjectedStoreFault";
  }
}

interface FaultRule {
  op: FaultTarget;
  remaining: number;
  error: Error | undefined;
}

/**
 * Op categories: reads (get, getMany, has, hasMany, iterator) count as "get"; set/setMany as "set";
 * delete/deleteMany/clear as "delete". `disconnect` is never faulted, so tests can always clean up.
 */
export class FaultyStoreAdapter extends EventEmitter implements KeyvStoreAdapter {
  /** Calls that reached this adapter, per op (including the ones that were failed). */
  readonly calls: Record<StoreOp, number> = { get: 0, set: 0, delete: 0 };
  /** Calls that were failed on purpose, per op. */
  readonly failures: Record<StoreOp, number> = { get: 0, set: 0, delete: 0 };
  private rules: FaultRule[] = [];
  private outage = false;
  private delayMs = 0;

  constructor(readonly inner: KeyvStoreAdapter) {
    super();
    inner.on("error", (error: unknown) => {
      if (this.listenerCount("error") > 0) this.emit("error", error);
    });
  }

  get opts(): unknown {
    return this.inner.opts;
  }

  get namespace(): string | undefined {
    return this.inner.namespace;
  }

  set namespace(value: string | undefined) {
    this.inner.namespace = value;
  }

  /** The next `times` calls of `op` ("any": of any op) reject with `error` (default InjectedStoreFault). */
  failNext(op: FaultTarget, times = 1, error?: Error): this {
    this.rules.push({ op, remaining: times, error });
    return this;
  }

  /** While on, every op rejects: a store outage. */
  failAll(on: boolean): this {
    this.outage = on;
    return this;
  }

  /** Every op waits `ms` before running (0: no delay). */
  delay(ms: number): this {
    this.delayMs = ms;
    return this;
  }

  /** Forget pending failNext rules, the outage and the delay (counters stay). */
  heal(): this {
    this.rules = [];
    this.outage = false;
    this.delayMs = 0;
    return this;
  }

  get totalCalls(): number {
    return this.calls.get + this.calls.set + this.calls.delete;
  }

  /** Operations begun and not finished (delayed, or running on the inner adapter). */
  get inFlight(): number {
    return this.running;
  }

  private running = 0;

  /** Runs one operation: counted in flight until it settles. */
  private async op<T>(op: StoreOp, run: () => Promise<T>): Promise<T> {
    this.running += 1;
    try {
      await this.enter(op);
      return await run();
    } finally {
      this.running -= 1;
    }
  }

  private async enter(op: StoreOp): Promise<void> {
    this.calls[op] += 1;
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs).unref());
    if (this.outage) {
      this.failures[op] += 1;
      throw new InjectedStoreFault(`injected store outage (${op})`);
    }
    const rule = this.rules.find((r) => r.remaining > 0 && (r.op === op || r.op === "any"));
    if (rule) {
      rule.remaining -= 1;
      this.rules = this.rules.filter((r) => r.remaining > 0);
      this.failures[op] += 1;
      throw rule.error ?? new InjectedStoreFault(`injected store fault (${op})`);
    }
  }

  async get<Value>(key: string): Promise<StoredData<Value> | undefined> {
    return this.op("get", () => this.inner.get<Value>(key));
  }

  async getMany<Value>(keys: string[]): Promise<Array<StoredData<Value | undefined>>> {
    return this.op("get", () => {
      if (this.inner.getMany) return this.inner.getMany<Value>(keys);
      return Promise.all(keys.map((k) => this.inner.get<Value>(k))) as Promise<Array<StoredData<Value | undefined>>>;
    });
  }

  async has(key: string): Promise<boolean> {
    return this.op("get", async () => {
      if (this.inner.has) return this.inner.has(key);
      return (await this.inner.get(key)) !== undefined;
    });
  }

  async set(key: string, value: any, ttl?: number): Promise<any> {
    return this.op("set", () => this.inner.set(key, value, ttl));
  }

  async delete(key: string): Promise<boolean> {
    return this.op("delete", () => this.inner.delete(key));
  }

  async deleteMany(keys: string[]): Promise<boolean> {
    return this.op("delete", async () => {
      if (this.inner.deleteMany) return this.inner.deleteMany(keys);
      const results = await Promise.all(keys.map((k) => this.inner.delete(k)));
      return results.some(Boolean);
    });
  }

  async clear(): Promise<void> {
    return this.op("delete", () => this.inner.clear());
  }

  async *iterator<Value>(namespace?: string): AsyncGenerator<Array<string | Awaited<Value> | undefined>, void> {
    await this.enter("get");
    if (!this.inner.iterator) throw new Error("inner adapter has no iterator");
    yield* this.inner.iterator<Value>(namespace);
  }

  async disconnect(): Promise<void> {
    await this.inner.disconnect?.();
  }
}
