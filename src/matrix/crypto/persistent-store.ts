// The crypto WASM's IndexedDB made durable in Node: fake-indexeddb in memory, restored from an encrypted
// snapshot file before the OlmMachine opens, saved again after changes.
//
// Loss window: a change is written at most `debounceMs` after the last change of a burst, and never later than
// `maxDelayMs` after the first unsaved change. `flush()` writes at once: the bot calls it before it saves a
// sync token (so to-device room keys are never lost with a token that moved past them) and on shutdown. A
// SIGKILL therefore loses at most the crypto changes of the last `maxDelayMs` that no flush covered, e.g. an
// outbound Megolm ratchet advance: harmless, because the bridge never continues a stored outbound session in a
// new process (it starts a new one per room, so no message index is reused; packages/matrix-sdk-crypto-nodejs).
// Olm state must not lag: the bridge calls `flush()` before any to-device message it encrypted leaves (session.ts).
import { promises as fs } from "node:fs";
import path from "node:path";
import type { Logger } from "pino";
import { restoreDatabases, snapshotDatabases, recordCount, type IdbFactory } from "./idb-snapshot";
import { readSnapshotFile, writeSnapshotFile } from "./snapshot-file";
import { acquireStoreLock, type StoreLock } from "./store-lock";

export interface PersistentStoreOptions {
  /** Directory of the store (created): holds the snapshot and the lock file. */
  dir: string;
  /** Name of the IndexedDB store (the WASM opens `<name>::matrix-sdk-crypto` and `<name>::matrix-sdk-crypto-meta`). */
  storeName: string;
  passphrase: string;
  /** Quiet time after the last change before a save; default 500 ms. */
  debounceMs?: number;
  /** Longest time a change stays unsaved while changes keep coming; default 2000 ms. */
  maxDelayMs?: number;
}

export const SNAPSHOT_FILE = "crypto-store.snapshot";
export const LOCK_FILE = "crypto-store.lock";

type Listener = () => void;
const listeners = new Set<Listener>();
let patched = false;

/** Installs fake-indexeddb's globals (once) and reports every write to the registered listeners. */
function installIndexedDb(): IdbFactory {
  const g = globalThis as { indexedDB?: IdbFactory };
  if (g.indexedDB === undefined) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require("fake-indexeddb/auto");
  }
  if (!patched) {
    patched = true;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    type Ctor = { prototype: Record<string, unknown>; default?: Ctor };
    const mod = require("fake-indexeddb/lib/FDBObjectStore") as Ctor; // eslint-disable-line @typescript-eslint/no-require-imports
    const proto = (mod.default ?? mod).prototype;
    for (const method of ["put", "add", "delete", "clear"]) {
      const original = proto[method] as (...args: unknown[]) => unknown;
      proto[method] = function (this: unknown, ...args: unknown[]) {
        const result = original.apply(this, args);
        for (const l of listeners) l();
        return result;
      };
    }
  }
  return g.indexedDB as IdbFactory;
}

export class PersistentCryptoStore {
  private timer: NodeJS.Timeout | undefined;
  private firstDirtyAt: number | undefined;
  private dirty = false;
  private saving: Promise<void> = Promise.resolve();
  private closed = false;
  private restoring = false;
  /** Whether a snapshot was restored at open (false: a new device is being set up). */
  restored = false;
  private readonly onWrite = (): void => this.markDirty();

  private constructor(private readonly factory: IdbFactory, private readonly lock: StoreLock,
    private readonly opts: Required<PersistentStoreOptions>, private readonly log: Logger) {}

  /** Takes the lock, installs IndexedDB, restores the last snapshot. Call before OlmMachine.initialize. */
  static async open(options: PersistentStoreOptions, log: Logger): Promise<PersistentCryptoStore> {
    const opts = { debounceMs: 500, maxDelayMs: 2000, ...options };
    await fs.mkdir(opts.dir, { recursive: true, mode: 0o700 });
    const lock = await acquireStoreLock(path.join(opts.dir, LOCK_FILE));
    try {
      const factory = installIndexedDb();
      const store = new PersistentCryptoStore(factory, lock, opts, log);
      await store.restore();
      listeners.add(store.onWrite);
      return store;
    } catch (e) {
      await lock.release();
      throw e;
    }
  }

  get snapshotFile(): string {
    return path.join(this.opts.dir, SNAPSHOT_FILE);
  }

  private get prefix(): string {
    return `${this.opts.storeName}::`;
  }

  private async restore(): Promise<void> {
    const snapshot = await readSnapshotFile(this.snapshotFile, this.opts.passphrase);
    if (!snapshot) {
      // The file is the truth: drop any same-named in-memory databases (e.g. a store reopened in one process).
      for (const d of await this.factory.databases()) {
        if (d.name?.startsWith(this.prefix)) await new Promise<void>((resolve, reject) => {
          const req = this.factory.deleteDatabase(d.name as string);
          req.onsuccess = () => resolve();
          req.onerror = () => reject(new Error(`could not reset ${String(d.name)}`));
        });
      }
      this.log.info({ file: this.snapshotFile }, "no crypto store snapshot yet: a new device will be set up");
      return;
    }
    this.restoring = true;
    try {
      await restoreDatabases(this.factory, snapshot);
    } finally {
      this.restoring = false;
    }
    this.restored = true;
    this.log.info({ records: recordCount(snapshot) }, "crypto store restored from its snapshot");
  }

  /** Called on every IndexedDB write (all stores in this process; cheap). */
  markDirty(): void {
    if (this.closed || this.restoring) return;
    this.dirty = true;
    const now = Date.now();
    this.firstDirtyAt ??= now;
    const wait = Math.max(0, Math.min(this.opts.debounceMs, this.firstDirtyAt + this.opts.maxDelayMs - now));
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.flush().catch(() => undefined), wait);
    this.timer.unref();
  }

  /** Writes a snapshot now if anything changed (serialized with any save in progress). Rejects if it fails. */
  flush(): Promise<void> {
    const run = this.saving.catch(() => undefined).then(() => this.save());
    this.saving = run;
    return run;
  }

  private async save(): Promise<void> {
    if (!this.dirty) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.dirty = false;
    this.firstDirtyAt = undefined;
    try {
      const snapshot = await snapshotDatabases(this.factory, this.prefix);
      const bytes = await writeSnapshotFile(this.snapshotFile, snapshot, this.opts.passphrase);
      this.log.debug({ records: recordCount(snapshot), bytes }, "crypto store saved");
    } catch (e) {
      this.dirty = true; // try again with the next change or flush
      this.log.error({ err: String(e) }, "saving the crypto store failed; will retry");
      throw e;
    }
  }

  /** Final save, then releases the lock. The machine must be closed or idle. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      if (this.timer) clearTimeout(this.timer);
      listeners.delete(this.onWrite);
      await this.lock.release();
    }
  }
}
