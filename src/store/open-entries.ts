// "List the entries of a namespace that have no expiry": how the journal and the outbox find what is still pending
// without an index entry of their own beside each entry (a pending journal entry or outbox record is written with
// no ttl; once done or sent it is rewritten with one). One write marks an entry pending, one marks it done, and each
// is atomic by itself: no order between two writes to keep, on any backend.
//   SQLite and PostgreSQL: a partial index on the key of the rows whose `expires` is NULL (sqlite-schema.ts,
//   postgres-adapter.ts): a listing reads those rows of the namespace only, however many done entries are kept.
//   Redis: a set per listed namespace (`~open:<namespace>`, not a string key: never listed as an entry, never
//   copied by store-copy), kept by the adapter in the same MULTI (or script) as each write of that namespace: a
//   write without a ttl adds the key, a write with a ttl or a delete removes it. Only OPEN_LISTED_NAMESPACES are
//   kept so (every other write stays one command); the adapter knows them itself, so a store-copy into Redis
//   builds the sets too.
// Any other adapter (a test's wrapper around ours delegates the listing to ours: Store.openLister) has none: the
// journal and the outbox then keep their index namespaces ("journal-pending", "outbox-pending") as before.
import type { KeyvStoreAdapter } from "keyv";
import { deserializeStoreValue } from "./serialization";

/** The namespaces whose entries without expiry can be listed (Store.openLister): the journal's and the outbox's. */
export const OPEN_LISTED_NAMESPACES: readonly string[] = ["journal", "outbox"];

/** An adapter's listing: whole keys (`<namespace>:<key>`) and stored values of the namespace's entries without expiry. */
export interface OpenListingAdapter {
  listOpen(namespace: string): AsyncIterable<[string, unknown]>;
}

/** A namespace's listing (Store.openLister): `[key, value]` of each entry stored without a ttl, in no promised order. */
export type OpenLister<T> = () => AsyncIterable<[string, T]>;

export function canListOpen(adapter: KeyvStoreAdapter): adapter is KeyvStoreAdapter & OpenListingAdapter {
  return typeof (adapter as Partial<OpenListingAdapter>).listOpen === "function";
}

/** The namespace of a whole key when it is one of OPEN_LISTED_NAMESPACES, else undefined. */
export function openListedNamespace(key: string): string | undefined {
  const cut = key.indexOf(":");
  if (cut <= 0) return undefined;
  const name = key.slice(0, cut);
  return OPEN_LISTED_NAMESPACES.includes(name) ? name : undefined;
}

/**
 * The listing of one namespace: keys without the `<name>:` prefix, values as the namespace's Keyv reads them (the
 * stored `{ value, expires }` through the store's serializer). An entry that cannot be read is skipped and told to
 * `onUnreadable` (nothing else names its key: the listing is how its owner finds it).
 */
export function namespaceOpenLister<T>(adapter: OpenListingAdapter, name: string,
  onUnreadable: (key: string, reason: string) => void): OpenLister<T> {
  const prefix = `${name}:`;
  return async function* list() {
    for await (const [key, stored] of adapter.listOpen(name)) {
      if (!key.startsWith(prefix)) continue;
      let value: T | undefined;
      let reason = "no value";
      try {
        if (typeof stored === "string") value = deserializeStoreValue<{ value?: T }>(stored).value;
        else reason = `stored as ${typeof stored}, not as text`;
      } catch (error) {
        reason = error instanceof Error ? error.message : String(error);
      }
      if (value !== undefined) yield [key.slice(prefix.length), value];
      else onUnreadable(key.slice(prefix.length), reason);
    }
  };
}
