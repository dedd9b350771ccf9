// Listing a namespace is a range of the primary key (no table scan), paged by key: it returns exactly that
// namespace's unexpired keys, however the names share prefixes, however many pages, whatever is deleted meanwhile.
// A store written before the expiry column existed is migrated in place when opened, and keeps working.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { KeyvSqlite } from "@keyv/sqlite";
import pino from "pino";
import { openStore, StoreSweeper, type Store } from "../../../src/store";
import { CoalescingKeyvSqlite } from "../../../src/store/sqlite-adapter";
import { SCHEMA_VERSION } from "../../../src/store/sqlite-schema";
import { storeKeys } from "../../support/store-rows";
import { describeEachBackend, freshStore, withPostgres, type TestStore } from "../../support/backends";

const silent = pino({ level: "silent" });

async function keysOf(store: Store, namespace: string): Promise<string[]> {
  const keyv = store.namespace(namespace);
  const keys: string[] = [];
  if (keyv.iterator) for await (const [key] of keyv.iterator(undefined)) keys.push(String(key));
  return keys;
}

describe("store listing and schema", () => {
  let dir: string;
  let file: string;
  const opened: Array<{ close(): Promise<void> }> = [];
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mab-listing-"));
    file = path.join(dir, "bot.sqlite");
  });
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const open = async (clock?: () => number): Promise<Store> => {
    const store = await openStore(`sqlite://${file}`, { logger: silent, ...(clock ? { clock } : {}) });
    opened.push(store);
    return store;
  };

  it("lists through the primary key index and sweeps through the expiry index: neither scans the table", async () => {
    const adapter = new CoalescingKeyvSqlite({ uri: `sqlite://${file}` });
    opened.push({ close: () => adapter.disconnect() });
    await adapter.set("journal:x", "{}");
    const plan = async (sql: string): Promise<string> =>
      ((await adapter.query(`EXPLAIN QUERY PLAN ${sql}`)) as Array<{ detail: string }>).map((r) => r.detail).join("; ");
    const listing = await plan("SELECT key, value FROM keyv WHERE key > 'journal:' AND key < 'journal;' AND (expires IS NULL OR expires > 1) ORDER BY key LIMIT 1000");
    expect(listing).toMatch(/SEARCH keyv USING INDEX sqlite_autoindex_keyv_1 \(key>\? AND key<\?\)/);
    const sweep = await plan("SELECT rowid FROM keyv WHERE expires IS NOT NULL AND expires <= 1 ORDER BY expires LIMIT 1000");
    expect(sweep).toMatch(/SEARCH keyv USING (COVERING )?INDEX keyv_expires \(/);
  });

  it("lists a namespace's entries without expiry from the partial index: the entries that expire are not read", async () => {
    const adapter = new CoalescingKeyvSqlite({ uri: `sqlite://${file}` });
    opened.push({ close: () => adapter.disconnect() });
    await Promise.all([adapter.set("journal:open", "{}"), adapter.set("journal:done", "{}", 60_000), adapter.set("journaling:x", "{}"),
      adapter.set("journal-pending:y", "{}"), adapter.set("outbox:z", "{}")]);
    const listed: string[] = [];
    for await (const [key] of adapter.listOpen("journal")) listed.push(key);
    expect(listed).toEqual(["journal:open"]);
    const plan = ((await adapter.query(`EXPLAIN QUERY PLAN SELECT key, value FROM keyv INDEXED BY keyv_open
      WHERE expires IS NULL AND key >= 'journal:' AND key < 'journal;' ORDER BY key LIMIT 1000`)) as Array<{ detail: string }>)
      .map((r) => r.detail).join("; ");
    expect(plan).toMatch(/SEARCH keyv USING INDEX keyv_open \(key>\? AND key<\?\)/);
  });

  it("a store of schema version 1 gets the index of entries without expiry when opened, its pending entries listed", async () => {
    const v1 = new KeyvSqlite({ uri: `sqlite://${file}` });
    await v1.query("ALTER TABLE keyv ADD COLUMN expires INTEGER");
    await v1.query("CREATE INDEX keyv_expires ON keyv(expires) WHERE expires IS NOT NULL");
    await v1.query("PRAGMA user_version = 1");
    await v1.query(`INSERT INTO keyv (key, value, expires) VALUES ('journal:p', '{"value":{"status":"pending"}}', NULL),
      ('journal:d', '{"value":{"status":"done"},"expires":9999999999999}', 9999999999999)`);
    await v1.disconnect();
    const store = await open();
    const listed: Array<[string, unknown]> = [];
    for await (const entry of store.openLister("journal")?.() ?? []) listed.push(entry);
    expect(listed).toEqual([["p", { status: "pending" }]]);
    await store.close();
    const raw = new KeyvSqlite({ uri: `sqlite://${file}` });
    expect(await raw.query("PRAGMA user_version")).toEqual([{ user_version: SCHEMA_VERSION }]);
    expect(await raw.query("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'keyv_open'")).toEqual([{ name: "keyv_open" }]);
    await raw.disconnect();
  });

  it("migrates a store written before the expiry column in place: data kept, old expired entries swept", async () => {
    const now = Date.now();
    const old = new KeyvSqlite({ uri: `sqlite://${file}` }); // the table as @keyv/sqlite alone made it
    const rows: Record<string, string> = {
      "journal:done-old": JSON.stringify({ value: { status: "done", at: 1 }, expires: now - 1000 }),
      "journal:done-new": JSON.stringify({ value: { status: "done", at: 2 }, expires: now + 60_000 }),
      "room-settings:!r:x": JSON.stringify({ value: { proactive: true } }),
      "sync:next_batch": "not json at all",
    };
    for (const [key, value] of Object.entries(rows)) await old.set(key, value);
    await old.disconnect();

    const store = await open();
    expect(await store.namespace("journal").get("done-new")).toEqual({ status: "done", at: 2 });
    expect(await store.namespace("room-settings").get("!r:x")).toEqual({ proactive: true });
    expect(await store.countRows()).toEqual({ total: 4, live: 3 });
    expect(await new StoreSweeper(store, { intervalMs: 60_000, batch: 10, log: silent }).sweep()).toBe(1);
    expect(await storeKeys(dir)).toEqual(["journal:done-new", "room-settings:!r:x", "sync:next_batch"]);
    await store.namespace("journal").set("later", { status: "done" }, 1);
    await store.close();

    const raw = new KeyvSqlite({ uri: `sqlite://${file}` });
    expect(await raw.query("PRAGMA user_version")).toEqual([{ user_version: SCHEMA_VERSION }]);
    const expiring = (await raw.query("SELECT key FROM keyv WHERE expires IS NOT NULL ORDER BY key")) as Array<{ key: string }>;
    expect(expiring.map((r) => r.key)).toEqual(["journal:done-new", "journal:later"]);
    await raw.disconnect();
  });

  it("a migration cut short (column added, version not yet written) is finished at the next open", async () => {
    const old = new KeyvSqlite({ uri: `sqlite://${file}` });
    await old.set("journal:a", JSON.stringify({ value: 1, expires: 5 }));
    await old.query("ALTER TABLE keyv ADD COLUMN expires INTEGER");
    await old.disconnect();
    const store = await open();
    expect(await store.countRows()).toEqual({ total: 1, live: 0 });
    expect(await store.deleteExpired(10)).toBe(1);
  });
});

describeEachBackend("store listing", (backend) => {
  let test: TestStore;
  const opened: Store[] = [];
  beforeEach(async () => {
    test = await freshStore(backend);
  });
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close().catch(() => undefined);
    await test.drop();
  });
  const open = async (url: string, clock?: () => number): Promise<Store> => {
    const store = await openStore(url, { logger: silent, ...(clock ? { clock } : {}) });
    opened.push(store);
    return store;
  };

  it("returns exactly a namespace's keys, across pages, beside namespaces that share its prefix", async () => {
    const store = await open(test.url);
    const odd = ["", ":", ";", "a:b", "a;b", "\u{1F9F5}", "Z", "~", "\u0000x", "ns;x"];
    const mine = [...odd, ...Array.from({ length: 2_500 }, (_, i) => `k${String(i).padStart(5, "0")}`)];
    const neighbours: Record<string, string[]> = { out: ["x", ";"], "outbox-pending": ["a", "k00001"], outboxx: ["b"], outbo: ["c"] };
    await Promise.all(mine.map((k) => store.namespace("outbox").set(k, 1)));
    for (const [ns, keys] of Object.entries(neighbours)) await Promise.all(keys.map((k) => store.namespace(ns).set(k, 2)));
    expect((await keysOf(store, "outbox")).sort()).toEqual([...mine].sort());
    for (const [ns, keys] of Object.entries(neighbours)) expect((await keysOf(store, ns)).sort()).toEqual([...keys].sort());
  });

  // In key order: sqlite and postgres (a redis SCAN has no order; it guarantees every key present throughout is listed).
  if (backend !== "redis") it("deleting entries while a namespace is being listed skips none of the others", async () => {
    const store = await open(test.url);
    const ns = store.namespace<number>("journal-pending");
    const keys = Array.from({ length: 1_200 }, (_, i) => `e${String(i).padStart(5, "0")}`);
    await Promise.all(keys.map((k, i) => ns.set(k, i)));
    const seen: string[] = [];
    if (!ns.iterator) throw new Error("no iterator");
    for await (const [key] of ns.iterator(undefined)) {
      seen.push(String(key));
      await ns.delete(String(key)); // as recovery cleans index entries while it lists them
    }
    expect(seen).toEqual(keys);
    expect(await keysOf(store, "journal-pending")).toEqual([]);
  });

  // On the store's clock: sqlite and postgres (redis expires on its own clock: the store contract test covers it).
  if (backend !== "redis") it("leaves expired entries out of a listing", async () => {
    let now = Date.now();
    const store = await open(test.url, () => now);
    await store.namespace("proactive-runs").set("old", ["!r:x"], 1000);
    await store.namespace("proactive-runs").set("new", ["!r:x"], 5000);
    now += 2000;
    expect(await keysOf(store, "proactive-runs")).toEqual(["new"]);
  });

  if (backend === "postgres") {
    it("lists through the primary key index and sweeps through the expiry index: neither needs a scan of the table", async () => {
      const store = await open(test.url);
      await store.namespace("journal").set("x", 1);
      await withPostgres(test.url, async (query) => {
        await query("SET enable_seqscan = off"); // a tiny table: the planner would scan it; can it do without?
        const plan = async (sql: string): Promise<string> => (await query(`EXPLAIN ${sql}`)).map((r) => String(Object.values(r)[0])).join("; ");
        const listing = await plan(`SELECT key, value FROM keyv WHERE key COLLATE "C" > 'journal:' AND key COLLATE "C" < 'journal;'
          AND (expires IS NULL OR expires > 1) ORDER BY key COLLATE "C" LIMIT 1000`);
        expect(listing).toMatch(/Index Scan (using|on) keyv_pkey/);
        const sweep = await plan("SELECT key FROM keyv WHERE expires IS NOT NULL AND expires <= 1 ORDER BY expires LIMIT 1000");
        expect(sweep).toMatch(/Index (Only )?Scan (using|on) keyv_expires/);
      });
    });
  }
});
