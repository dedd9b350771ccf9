import Keyv, { type KeyvStoreAdapter } from "keyv";
import { deserializeStoreValue, serializeStoreValue } from "./serialization";

/**
 * The Keyv of one store namespace (store.ts). keyv stays the stack: reads, lists, clears and everything else are
 * keyv's own. Only its two writes of one key, which every turn calls ~9 times, skip keyv's per-call wrapping (a
 * `{ key, value, ttl }` object, hook payloads, stats calls and an extra async step per call: ~800 bytes of garbage
 * per set, ~450 per delete): they call the serializer and the namespace's adapter directly, the way keyv does.
 *
 * What stays exactly as in keyv 5 (test/unit/store/store-keyv.test.ts compares both):
 * - the stored form: our serializer over `{ value, expires }`, the adapter given the key, the text and the ttl;
 * - when the adapter is called: a set reaches it one microtask after it is called (keyv awaits its serializer
 *   first), a delete at once; the caller resumes after as many microtasks as with keyv;
 * - errors: an adapter's failure is emitted as "error" and thrown (the store's keyvs throw on errors), a symbol
 *   value is refused, an unstorable value rejects.
 * A namespace with hooks registered, a default ttl, or an array of keys is handed to keyv as it is.
 */
export class StoreKeyv<T> extends Keyv<T> {
  constructor(private readonly adapter: KeyvStoreAdapter, namespace: string) {
    super({
      store: adapter,
      namespace,
      useKeyPrefix: false, // the adapter (a NamespaceView) prefixes
      throwOnErrors: true,
      serialize: serializeStoreValue,
      deserialize: deserializeStoreValue,
    });
  }

  /** keyv's own path is needed: a hook to call, a default ttl to apply, or the adapter replaced after creation. */
  private keyvNeeded(): boolean {
    return this.hooks._hookHandlers.size > 0 || this.ttl !== undefined || this.opts.store !== this.adapter;
  }

  override async set<Value = T>(key: string, value: Value, ttl?: number): Promise<boolean> {
    if (typeof key !== "string" || this.keyvNeeded()) return super.set(key, value, ttl);
    const entryTtl = ttl === 0 ? undefined : ttl;
    if (typeof value === "symbol") {
      this.emit("error", "symbol cannot be serialized");
      throw new Error("symbol cannot be serialized");
    }
    const expires = typeof entryTtl === "number" ? Date.now() + entryTtl : undefined;
    const text = await serialized({ value, expires });
    try {
      const stored: unknown = await this.adapter.set(key, text, entryTtl);
      return typeof stored === "boolean" ? stored : true;
    } catch (error) {
      this.emit("error", error);
      if (this.throwOnErrors) throw error;
      return false;
    }
  }

  override async delete(key: string | string[]): Promise<boolean> {
    if (typeof key !== "string" || this.keyvNeeded()) return super.delete(key);
    try {
      const deleted: unknown = await this.adapter.delete(key);
      return typeof deleted === "boolean" ? deleted : true;
    } catch (error) {
      this.emit("error", error);
      if (this.throwOnErrors) throw error;
      return false;
    }
  }
}

/** The serializer behind a promise, as keyv's `serializeData` gives it (an unstorable value rejects, it never throws). */
async function serialized(data: { value: unknown; expires: number | undefined }): Promise<string> {
  return serializeStoreValue(data);
}
