import type { KeyvStoreAdapter, StoredData } from "keyv";
import type { StoreBackend } from "./store-url";

/** Namespace names: lowercase words joined by `-` ("journal", "agent-session"). */
export const NAMESPACE_NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

const CLEAR_BATCH = 500;

/**
 * One namespace's window onto the shared adapter.
 *
 * Why not hand the shared adapter to every Keyv: keyv 5 writes its namespace into the adapter
 * (`adapter.namespace = ns`) on construction, so with one shared adapter the *last* Keyv created
 * decides what `clear()` and the iterator of *every* Keyv touch. Each view keeps its own prefix.
 *
 * Why the view (not keyv's `useKeyPrefix`) adds the prefix: keyv skips the prefix when a key already
 * starts with `<ns>:`, so `set("journal:x")` and `set("x")` would be the same row. Here every key is
 * stored as `<name>:<key>`, always: the same layout keyv uses, minus that collision.
 *
 * The view has no `disconnect`: closing is the store's job, not one namespace's.
 */
export class NamespaceView implements KeyvStoreAdapter {
  /** keyv reads `opts.dialect` to decide whether the adapter is iterable. */
  readonly opts: { dialect: StoreBackend; url: string };
  /** keyv assigns its namespace here; informational only, the prefix below is fixed. */
  namespace?: string | undefined;
  private readonly prefix: string;

  constructor(
    private readonly shared: KeyvStoreAdapter,
    readonly name: string,
    private readonly backend: StoreBackend,
  ) {
    if (!NAMESPACE_NAME.test(name)) throw new TypeError(`invalid store namespace name: ${JSON.stringify(name)}`);
    this.prefix = `${name}:`;
    this.opts = { dialect: backend, url: "" };
  }

  private key(key: string): string {
    return this.prefix + key;
  }

  get<Value>(key: string): Promise<StoredData<Value> | undefined> {
    return this.shared.get<Value>(this.key(key));
  }

  async getMany<Value>(keys: string[]): Promise<Array<StoredData<Value | undefined>>> {
    if (keys.length === 0) return [];
    const full = keys.map((k) => this.key(k));
    if (this.shared.getMany) return this.shared.getMany<Value>(full);
    // Promise.all, not allSettled: one failed read must fail the whole call.
    return Promise.all(full.map((k) => this.shared.get<Value>(k))) as Promise<Array<StoredData<Value | undefined>>>;
  }

  set(key: string, value: any, ttl?: number): any {
    return this.shared.set(this.key(key), value, ttl);
  }

  delete(key: string): Promise<boolean> {
    return this.shared.delete(this.key(key));
  }

  async deleteMany(keys: string[]): Promise<boolean> {
    if (keys.length === 0) return false;
    const full = keys.map((k) => this.key(k));
    if (this.shared.deleteMany) return this.shared.deleteMany(full);
    const results = await Promise.all(full.map((k) => this.shared.delete(k)));
    return results.some(Boolean);
  }

  async has(key: string): Promise<boolean> {
    if (this.shared.has) return this.shared.has(this.key(key));
    return (await this.shared.get(this.key(key))) !== undefined;
  }

  /** Yields `[key without prefix, raw stored value]`. On sqlite a range of the primary key (no table scan). */
  async *iterator<Value>(): AsyncGenerator<Array<string | Awaited<Value> | undefined>, void> {
    if (!this.shared.iterator) throw new Error(`the ${this.backend} store adapter cannot list keys`);
    // Our adapters list the keys that start with `<ns>:`: sqlite and postgres a range of the primary key, redis a
    // SCAN MATCH `<ns>:*`. The startsWith check below keeps any other adapter exact.
    for await (const entry of this.shared.iterator<Value>(this.name)) {
      const [key, value] = entry;
      if (typeof key === "string" && key.startsWith(this.prefix)) yield [key.slice(this.prefix.length), value];
    }
  }

  /** Deletes this namespace's keys only (lists first, then deletes in batches). */
  async clear(): Promise<void> {
    const keys: string[] = [];
    for await (const [key] of this.iterator()) {
      if (typeof key === "string") keys.push(key);
    }
    for (let i = 0; i < keys.length; i += CLEAR_BATCH) await this.deleteMany(keys.slice(i, i + CLEAR_BATCH));
  }

  on(): this {
    return this;
  }
}
