// "Write these entries unless their key holds one, and say which were new", in one round trip with no read before
// it: the journal's append (src/matrix/journal.ts), so a transaction's 200 waits for one group commit and no read.
// Our SQLite adapter (in its group commit), PostgreSQL adapter (`INSERT … ON CONFLICT … RETURNING key`) and Redis
// adapter (`SET … NX` in one MULTI) have it; any other keyv adapter (STORE_URL may name one), or a test's wrapper
// around ours, has not: Store.inserter() is undefined then and the journal reads first, as before.
import type { KeyvStoreAdapter } from "keyv";
import { serializeStoreValue } from "./serialization";

/** An adapter's insertIfAbsent: keys are whole keys (`<namespace>:<key>`), values stored text, ttl in ms. */
export interface InsertIfAbsentAdapter {
  insertIfAbsent(entries: ReadonlyArray<{ key: string; value: string; ttl?: number }>): Promise<boolean[]>;
}

/** A namespace's insertIfAbsent (Store.inserter): per entry, true when it was written (no live entry had its key). */
export type StoreInserter<T> = (entries: ReadonlyArray<{ key: string; value: T; ttlMs?: number }>) => Promise<boolean[]>;

export function canInsertIfAbsent(adapter: KeyvStoreAdapter): adapter is KeyvStoreAdapter & InsertIfAbsentAdapter {
  return typeof (adapter as Partial<InsertIfAbsentAdapter>).insertIfAbsent === "function";
}

/**
 * The inserter of one namespace: keys laid out as NamespaceView lays them out (`<name>:<key>`), values written as
 * keyv writes them (`{ value, expires }` through the store's serializer), so the namespace's Keyv reads them back.
 */
export function namespaceInserter<T>(adapter: InsertIfAbsentAdapter, name: string): StoreInserter<T> {
  const prefix = `${name}:`;
  return (entries) => adapter.insertIfAbsent(entries.map(({ key, value, ttlMs }) => {
    const ttl = typeof ttlMs === "number" && ttlMs > 0 ? ttlMs : undefined;
    return { key: prefix + key, value: serializeStoreValue({ value, expires: ttl === undefined ? undefined : Date.now() + ttl }),
      ...(ttl === undefined ? {} : { ttl }) };
  }));
}
