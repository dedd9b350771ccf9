// Store.inserter (src/store/insert-if-absent.ts): "write these entries unless their key holds one, say which were
// new" in one round trip with no read, on SQLite (in the group commit), PostgreSQL and Redis. What it writes reads
// back through the namespace's Keyv like any value; an expired entry counts as absent.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import pino from "pino";
import { openStore, type Store } from "../../../src/store";
import { FaultyStoreAdapter } from "../../support/faulty-store";
import { describeEachBackend, freshStore, type TestStore } from "../../support/backends";
import { waitFor } from "../../support/wait";

describeEachBackend("insertIfAbsent", (backend) => {
  let dir: string;
  let test: TestStore;
  let now = Date.now();
  const opened: Store[] = [];
  const open = async (extra: Parameters<typeof openStore>[1] extends infer O ? Partial<O> : never = {}): Promise<Store> => {
    const store = await openStore(test.url, { logger: pino({ level: "silent" }), clock: () => now, ...extra });
    opened.push(store);
    return store;
  };

  beforeEach(async () => {
    now = Date.now();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mab-insert-"));
    test = await freshStore(backend, dir);
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close().catch(() => undefined)));
    await test.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("writes only the keys that hold no entry, says which, and what it wrote reads back through the namespace", async () => {
    const store = await open();
    const kv = store.namespace<{ n: number }>("things");
    await kv.set("old", { n: 1 });
    const insert = store.inserter<{ n: number }>("things");
    expect(insert).toBeDefined();
    expect(await insert?.([{ key: "old", value: { n: 2 } }, { key: "new", value: { n: 3 } }, { key: ":colon", value: { n: 4 } }]))
      .toEqual([false, true, true]);
    expect(await kv.get("old")).toEqual({ n: 1 }); // left as it was
    expect(await kv.get("new")).toEqual({ n: 3 });
    expect(await kv.get(":colon")).toEqual({ n: 4 });
    expect(await store.namespace("other").get("new")).toBeUndefined(); // in its own namespace only
    expect(await insert?.([{ key: "new", value: { n: 5 } }])).toEqual([false]);
    expect(await insert?.([])).toEqual([]);
  });

  it("writes a key given twice in one call once, with its first value", async () => {
    const store = await open();
    const insert = store.inserter<string>("things");
    expect(await insert?.([{ key: "k", value: "first" }, { key: "k", value: "second" }])).toEqual([true, false]);
    expect(await store.namespace<string>("things").get("k")).toBe("first");
  });

  it("counts an expired entry as absent, and gives what it writes the ttl asked for", async () => {
    const store = await open();
    const kv = store.namespace<string>("things");
    await kv.set("gone", "old", 50);
    if (backend === "redis") await waitFor(async () => !(await store.namespace("probe").has("x")) && (await rawExists(test, "things:gone")) === false, { what: "redis expired the key" });
    else now += 60_000; // the store's clock: the row's expiry has passed (keyv's own check is not asked: no read)
    const insert = store.inserter<string>("things");
    expect(await insert?.([{ key: "gone", value: "again", ttlMs: 3_600_000 }])).toEqual([true]);
    expect(await kv.get("gone")).toBe("again");
    if (backend !== "redis") {
      now += 2 * 3_600_000;
      expect(await store.deleteExpired(10)).toBe(1); // its expiry was written with it
    }
  });

  it("is not offered through a test's wrapper around the adapter (the journal then reads first)", async () => {
    const store = await open({ wrapAdapter: (a) => new FaultyStoreAdapter(a) });
    expect(store.inserter("things")).toBeUndefined();
  });

  if (backend === "sqlite") {
    it("goes in the group commit with the writes issued beside it, in issue order, and reads nothing", async () => {
      const store = await open();
      const kv = store.namespace<number>("things");
      const insert = store.inserter<number>("things");
      await kv.set("a", 1);
      const before = store.writeStats();
      // The inserter reaches the adapter at once; a Keyv write a few microtasks later: the set of "b" comes last.
      const results = await Promise.all([insert?.([{ key: "a", value: 2 }, { key: "b", value: 3 }]), insert?.([{ key: "b", value: 4 }]),
        kv.set("b", 5), kv.set("c", 6)]);
      expect(results.slice(0, 2)).toEqual([[false, true], [false]]);
      const after = store.writeStats();
      expect(after?.commits).toBe((before?.commits ?? 0) + 1);
      expect(after?.writes).toBe((before?.writes ?? 0) + 5);
      expect(after?.reads).toBe(before?.reads);
      expect(await kv.get("a")).toBe(1);
      expect(await kv.get("b")).toBe(5);
      expect(await kv.get("c")).toBe(6);
    });
  }
});

async function rawExists(test: TestStore, key: string): Promise<boolean> {
  const { withRedis } = await import("../../support/backends");
  return withRedis(test.url, async (client) => (await client.exists(key)) === 1);
}
