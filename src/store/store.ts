import { randomUUID } from "node:crypto";
import Keyv, { type KeyvStoreAdapter } from "keyv";
import type { Logger } from "pino";
import { createAdapter, expiringAdapter, type ExpiringAdapter } from "./adapters";
import { canInsertIfAbsent, namespaceInserter, type StoreInserter } from "./insert-if-absent";
import { StoreUnavailableError } from "./errors";
import { NamespaceView } from "./namespace-view";
import { canListOpen, namespaceOpenLister, OPEN_LISTED_NAMESPACES, type OpenLister, type OpenListingAdapter } from "./open-entries";
import { CoalescingKeyvSqlite } from "./sqlite-adapter";
import { StoreKeyv } from "./store-keyv";
import { parseStoreUrl, redactStoreUrl, type StoreBackend } from "./store-url";

/**
 * The bot's durable key-value store: one adapter (one connection or pool) shared by one Keyv per
 * kind of record ("journal", "outbox", "settings", "sync", "agent-session", ...).
 *
 * Every Keyv is created with `throwOnErrors: true`: a broken store rejects instead of reading as
 * "missing" (which would mean "event not seen", "room not opted in", ...). Values use keyv's default
 * format (JSON, plus Buffers as base64 and a `:`-escape for strings starting with `:`), written by our
 * own serializer (serialization.ts: user-controlled keys such as `toJSON` are data, never called): Dates
 * come back as ISO strings, `undefined` properties vanish, BigInt or too deep a nesting throws
 * UnstorableValueError. Store plain JSON data and parse it with zod on the way out. keyv 5 has no multi-key transaction: callers order their writes.
 */
export interface Store {
  readonly backend: StoreBackend;
  /** STORE_URL with secrets redacted, for logs. */
  readonly location: string;
  /**
   * Writes are applied in the order they were issued, and each one atomically: a write issued after another
   * (in the same tick included) never becomes durable without it. True for our SQLite adapter (one connection,
   * a FIFO of writes); false for the others (a pool may reorder concurrent writes), where callers await each
   * write they must order.
   */
  readonly writesInIssueOrder: boolean;
  /** The Keyv for one kind of record; the same instance for the same name. Names: `[a-z0-9-]`, e.g. "agent-session". */
  namespace<T>(name: string): Keyv<T>;
  /**
   * One namespace's insertIfAbsent (insert-if-absent.ts): writes the entries whose key holds none, says which, with
   * no read. Undefined when the adapter has none (another keyv adapter, or a test's wrapper around ours).
   */
  inserter<T>(name: string): StoreInserter<T> | undefined;
  /**
   * The entries of one of OPEN_LISTED_NAMESPACES stored without a ttl (open-entries.ts), read without touching the
   * others. Undefined for another name or when the adapter cannot (another keyv adapter). Listed by the adapter under
   * any test wrapper: whether the journal and the outbox write their index entries depends on the store, not on a wrapper.
   */
  openLister<T>(name: string): OpenLister<T> | undefined;
  /**
   * Deletes at most `limit` entries whose ttl has passed; returns how many (the sweep, sweep.ts, calls it in
   * batches). sqlite and postgres: redis expires entries itself (native ttls), 0 there.
   */
  deleteExpired(limit: number): Promise<number>;
  /** Entries stored and how many have not expired (a count of the whole table: figures and tests). sqlite and postgres. */
  countRows(): Promise<{ total: number; live: number } | undefined>;
  /**
   * Writes asked for since the store opened (each set and each delete of a key) and the commits that carried them
   * (each one fsync of the WAL with synchronous=FULL), and the reads asked for (each get or getMany): sqlite only,
   * undefined on the other backends.
   */
  writeStats(): { writes: number; commits: number; reads: number } | undefined;
  /** Writes, reads back and deletes a probe key; throws StoreUnavailableError on failure or timeout. */
  healthCheck(): Promise<void>;
  /** Closes the shared connection. Idempotent. Namespaces must not be used afterwards. */
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  logger: Logger;
  /** Test hook: wrap the shared adapter (e.g. with a fault injector) before any Keyv sees it. */
  wrapAdapter?: (adapter: KeyvStoreAdapter) => KeyvStoreAdapter;
  /** SQLite busy timeout (ms) when another connection holds the lock. Default 5000. */
  sqliteBusyTimeoutMs?: number;
  /** SQLite `synchronous` in WAL mode (see AdapterOptions). Default "full". */
  sqliteSynchronous?: "normal" | "full";
  /** healthCheck gives up after this many ms. Default 5000. */
  healthCheckTimeoutMs?: number;
  /** The clock entry expiry is measured on. Default Date.now; benchmarks simulate days. */
  clock?: () => number;
}

const HEALTH_NAMESPACE = "store-health";
/** A health probe's key expires after this (it is deleted at once; the ttl only matters for one cut short). */
const PROBE_TTL_MS = 60_000;

/** Resolves once every promise has settled, or after `ms`, whichever is first. */
async function settleWithin(promises: readonly Promise<unknown>[], ms: number): Promise<void> {
  if (promises.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.allSettled(promises), new Promise((resolve) => { timer = setTimeout(resolve, ms); })]);
  clearTimeout(timer);
}

/**
 * Open the store named by STORE_URL: `sqlite://<path>` (parent directories are created; WAL journal
 * mode; `sqlite://:memory:` for tests), `postgres://` / `postgresql://` (needs @keyv/postgres),
 * `redis://` / `rediss://` (needs @keyv/redis). Throws StoreConfigError for an unknown scheme, a
 * missing adapter package (the message names the npm install command) or an unopenable sqlite file.
 * For postgres/redis the connection is lazy: call `healthCheck()` to find out whether it works.
 */
export async function openStore(url: string, opts: OpenStoreOptions): Promise<Store> {
  const logger = opts.logger;
  const parsed = parseStoreUrl(url);
  const raw = await createAdapter(parsed, {
    logger,
    sqliteBusyTimeoutMs: opts.sqliteBusyTimeoutMs ?? 5000,
    ...(opts.sqliteSynchronous ? { sqliteSynchronous: opts.sqliteSynchronous } : {}),
    ...(opts.clock ? { now: opts.clock } : {}),
  });
  const adapter = opts.wrapAdapter ? opts.wrapAdapter(raw) : raw;
  // A wrapper (tests' fault injector) may fail one write and pass the next: no ordering promise then (a test
  // hook that only observes returns the adapter itself).
  const inOrder = raw instanceof CoalescingKeyvSqlite && adapter === raw;
  const store = new KeyvStore(adapter, expiringAdapter(raw), parsed.backend, redactStoreUrl(url), logger,
    opts.healthCheckTimeoutMs ?? 5000, inOrder, raw instanceof CoalescingKeyvSqlite ? raw.writeStats : undefined,
    canListOpen(raw) ? raw : undefined);
  logger.info({ backend: store.backend, location: store.location }, "store opened");
  return store;
}

class KeyvStore implements Store {
  private readonly keyvs = new Map<string, Keyv<unknown>>();
  private readonly health: Keyv<{ nonce: string }>;
  private closing: Promise<void> | undefined;
  /** Health probes in flight: close() lets them finish. */
  private readonly probes = new Set<Promise<void>>();

  constructor(
    private readonly adapter: KeyvStoreAdapter,
    /** The sqlite or postgres adapter under any wrapper: expiry sweeps and counts. */
    private readonly expiring: ExpiringAdapter | undefined,
    readonly backend: StoreBackend,
    readonly location: string,
    private readonly logger: Logger,
    private readonly healthCheckTimeoutMs: number,
    readonly writesInIssueOrder: boolean,
    private readonly sqliteWrites: { readonly writes: number; readonly commits: number; readonly reads: number } | undefined,
    private readonly openListing: OpenListingAdapter | undefined,
  ) {
    this.health = this.makeKeyv<{ nonce: string }>(HEALTH_NAMESPACE);
  }

  private makeKeyv<T>(name: string): Keyv<T> {
    // keyv over a view that prefixes (see NamespaceView); its writes of one key skip keyv's wrapping (store-keyv.ts).
    return new StoreKeyv<T>(new NamespaceView(this.adapter, name, this.backend), name);
  }

  namespace<T>(name: string): Keyv<T> {
    if (this.closing) throw new Error(`store is closed (namespace ${JSON.stringify(name)} requested)`);
    if (name === HEALTH_NAMESPACE) throw new TypeError(`store namespace "${HEALTH_NAMESPACE}" is reserved`);
    let keyv = this.keyvs.get(name);
    if (!keyv) {
      keyv = this.makeKeyv<unknown>(name);
      this.keyvs.set(name, keyv);
    }
    return keyv as Keyv<T>;
  }

  inserter<T>(name: string): StoreInserter<T> | undefined {
    this.namespace<T>(name); // checks the name and that the store is open
    const adapter = this.adapter;
    if (!canInsertIfAbsent(adapter)) return undefined;
    const insert = namespaceInserter<T>(adapter, name);
    return (entries) => (this.closing ? Promise.reject(new Error("store is closed")) : insert(entries));
  }

  openLister<T>(name: string): OpenLister<T> | undefined {
    this.namespace<T>(name);
    if (!this.openListing || !OPEN_LISTED_NAMESPACES.includes(name)) return undefined;
    const list = namespaceOpenLister<T>(this.openListing, name, (key, reason) => this.logger.error({ namespace: name, key, reason },
      "a pending store entry could not be read; skipped"));
    const closing = (): boolean => this.closing !== undefined;
    return async function* listOpen() {
      if (closing()) throw new Error("store is closed");
      yield* list();
    };
  }

  async deleteExpired(limit: number): Promise<number> {
    if (this.closing) throw new Error("store is closed");
    return this.expiring ? this.expiring.deleteExpired(limit) : 0;
  }

  async countRows(): Promise<{ total: number; live: number } | undefined> {
    return this.expiring?.countRows();
  }

  writeStats(): { writes: number; commits: number; reads: number } | undefined {
    return this.sqliteWrites ? { ...this.sqliteWrites } : undefined;
  }

  async healthCheck(): Promise<void> {
    if (this.closing) throw new StoreUnavailableError("store health check failed: the store is closed");
    const key = `probe-${randomUUID()}`;
    const nonce = randomUUID();
    const probe = async (): Promise<void> => {
      // With a ttl: a probe cut short (a store failing between the write and the delete) is swept, never kept.
      await this.health.set(key, { nonce }, PROBE_TTL_MS);
      const back = await this.health.get(key);
      if (back?.nonce !== nonce) throw new Error("the probe key read back a different value");
      await this.health.delete(key);
    };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${this.healthCheckTimeoutMs} ms`)),
        this.healthCheckTimeoutMs,
      );
      timer.unref();
    });
    const probing = probe();
    this.probes.add(probing);
    const settled = (): void => void this.probes.delete(probing);
    probing.then(settled, settled);
    try {
      await Promise.race([probing, timeout]);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new StoreUnavailableError(`store health check failed (${this.backend}): ${reason}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        // A probe in flight (a readiness read during shutdown) ends first: its key is deleted, not left behind.
        await settleWithin([...this.probes], this.healthCheckTimeoutMs);
        await this.adapter.disconnect?.();
        this.logger.info({ backend: this.backend }, "store closed");
      } catch (error) {
        this.logger.warn({ err: error, backend: this.backend }, "store did not close cleanly");
        throw error;
      }
    })();
    return this.closing;
  }
}
