// A whole-database snapshot of an in-process IndexedDB (fake-indexeddb), and its restore. The crypto WASM
// keeps its store in IndexedDB; Node has none that persists, so the bot snapshots every database of the store
// to one file (see snapshot-file.ts) and restores it before the OlmMachine opens. Values are kept as the
// structured clones IndexedDB holds (v8 serialization in the file), so typed arrays and Maps survive.

/* Minimal structural types of the IndexedDB API we use (the project's TypeScript has no DOM lib). */
interface Req<T> { result: T; error: unknown; onsuccess: (() => void) | null; onerror: (() => void) | null }
interface OpenReq<T> extends Req<T> { onupgradeneeded: (() => void) | null; onblocked: (() => void) | null; transaction: Tx | null }
interface Tx { objectStore(name: string): Store; oncomplete: (() => void) | null; onerror: (() => void) | null; onabort: (() => void) | null; error: unknown }
interface Index { name: string; keyPath: string | string[]; unique: boolean; multiEntry: boolean }
interface Store {
  name: string; keyPath: string | string[] | null; autoIncrement: boolean; indexNames: ArrayLike<string>;
  index(name: string): Index;
  getAll(): Req<unknown[]>;
  getAllKeys(): Req<unknown[]>;
  put(value: unknown, key?: unknown): Req<unknown>;
  clear(): Req<unknown>;
  createIndex(name: string, keyPath: string | string[], opts: { unique: boolean; multiEntry: boolean }): Index;
}
interface Db {
  name: string; version: number; objectStoreNames: ArrayLike<string>;
  transaction(stores: string[], mode: "readonly" | "readwrite"): Tx;
  createObjectStore(name: string, opts: { keyPath?: string | string[] | null; autoIncrement: boolean }): Store;
  close(): void;
}
export interface IdbFactory {
  open(name: string, version?: number): OpenReq<Db>;
  databases(): Promise<Array<{ name?: string; version?: number }>>;
  deleteDatabase(name: string): Req<unknown>;
}

export interface IndexSnapshot { name: string; keyPath: string | string[]; unique: boolean; multiEntry: boolean }
export interface StoreSnapshot {
  name: string; keyPath: string | string[] | null; autoIncrement: boolean; indexes: IndexSnapshot[];
  keys: unknown[]; values: unknown[];
}
export interface DatabaseSnapshot { name: string; version: number; stores: StoreSnapshot[] }
export interface IdbSnapshot { format: 1; databases: DatabaseSnapshot[] }

function done<T>(req: Req<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error instanceof Error ? req.error : new Error(String(req.error)));
  });
}

function txDone(tx: Tx): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error instanceof Error ? tx.error : new Error("IndexedDB transaction failed"));
    tx.onabort = () => reject(tx.error instanceof Error ? tx.error : new Error("IndexedDB transaction aborted"));
  });
}

function openDb(factory: IdbFactory, name: string, version?: number, upgrade?: (db: Db) => void): Promise<Db> {
  const req = factory.open(name, version);
  req.onupgradeneeded = () => upgrade?.(req.result);
  req.onblocked = () => undefined;
  return done(req);
}

/** Snapshots every database whose name starts with `prefix` (the crypto store's `<name>::…` databases). */
export async function snapshotDatabases(factory: IdbFactory, prefix: string): Promise<IdbSnapshot> {
  const infos = (await factory.databases()).filter((d) => typeof d.name === "string" && d.name.startsWith(prefix));
  const databases: DatabaseSnapshot[] = [];
  for (const info of infos) {
    const db = await openDb(factory, info.name as string);
    try {
      const names = Array.from(db.objectStoreNames);
      const stores: StoreSnapshot[] = [];
      if (names.length > 0) {
        // One read transaction over all stores: a consistent view of the database.
        const tx = db.transaction(names, "readonly");
        const finished = txDone(tx);
        const reads = names.map(async (name) => {
          const store = tx.objectStore(name);
          const indexes = Array.from(store.indexNames).map((i) => {
            const idx = store.index(i);
            return { name: idx.name, keyPath: idx.keyPath, unique: idx.unique, multiEntry: idx.multiEntry };
          });
          const [keys, values] = await Promise.all([done(store.getAllKeys()), done(store.getAll())]);
          return { name, keyPath: store.keyPath, autoIncrement: store.autoIncrement, indexes, keys, values };
        });
        stores.push(...(await Promise.all(reads)));
        await finished;
      }
      databases.push({ name: db.name, version: db.version, stores });
    } finally {
      db.close();
    }
  }
  return { format: 1, databases };
}

/** Recreates the snapshot's databases (replacing same-named ones) in `factory`. */
export async function restoreDatabases(factory: IdbFactory, snapshot: IdbSnapshot): Promise<void> {
  for (const d of snapshot.databases) {
    await done(factory.deleteDatabase(d.name));
    const db = await openDb(factory, d.name, d.version, (created) => {
      for (const s of d.stores) {
        const store = created.createObjectStore(s.name, { keyPath: s.keyPath, autoIncrement: s.autoIncrement });
        for (const i of s.indexes) store.createIndex(i.name, i.keyPath, { unique: i.unique, multiEntry: i.multiEntry });
      }
    });
    try {
      if (d.stores.length === 0) continue;
      const tx = db.transaction(d.stores.map((s) => s.name), "readwrite");
      const finished = txDone(tx);
      for (const s of d.stores) {
        const store = tx.objectStore(s.name);
        s.values.forEach((value, i) => {
          if (s.keyPath === null) store.put(value, s.keys[i]);
          else store.put(value);
        });
      }
      await finished;
    } finally {
      db.close();
    }
  }
}

/** Counts records, for logs. */
export function recordCount(snapshot: IdbSnapshot): number {
  return snapshot.databases.reduce((n, d) => n + d.stores.reduce((m, s) => m + s.values.length, 0), 0);
}
