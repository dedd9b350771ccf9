// Store.openLister (src/store/open-entries.ts) on SQLite, PostgreSQL and Redis: the entries of the journal's and the
// outbox's namespaces stored without a ttl, across pages, and no other: not one written with a ttl (done, sent), not
// one deleted, not one of another namespace; an insertIfAbsent that wrote its key counts, one that left it does not.
import pino from "pino";
import { openStore, type Store } from "../../../src/store";
import { namespaceOpenLister } from "../../../src/store/open-entries";
import { describeEachBackend, freshStore, type TestStore } from "../../support/backends";

const silent = pino({ level: "silent" });

describeEachBackend("store: entries without expiry", (backend) => {
  let test: TestStore;
  let store: Store;
  beforeEach(async () => {
    test = await freshStore(backend);
    store = await openStore(test.url, { logger: silent });
  });
  afterEach(async () => {
    await store.close().catch(() => undefined);
    await test.drop();
  });
  const listed = async (name: string): Promise<Array<[string, unknown]>> => {
    const out: Array<[string, unknown]> = [];
    for await (const entry of store.openLister(name)?.() ?? []) out.push(entry);
    return out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  };

  it("lists the entries written without a ttl, until they are rewritten with one or deleted", async () => {
    const journal = store.namespace<{ n: number }>("journal");
    await Promise.all([journal.set("a", { n: 1 }), journal.set("b", { n: 2 }), journal.set("c", { n: 3 }), journal.set("d", { n: 4 }, 60_000)]);
    await store.namespace("journal-pending").set("a", 1);
    await store.namespace("journals").set("x", 1);
    expect(await listed("journal")).toEqual([["a", { n: 1 }], ["b", { n: 2 }], ["c", { n: 3 }]]);
    await journal.set("a", { n: 10 }, 60_000); // done: kept for a while, no longer open
    await journal.delete("b");
    expect(await listed("journal")).toEqual([["c", { n: 3 }]]);
    await journal.set("a", { n: 11 }); // pending again
    expect(await listed("journal")).toEqual([["a", { n: 11 }], ["c", { n: 3 }]]);
    await journal.deleteMany(["a", "c"]);
    expect(await listed("journal")).toEqual([]);
    expect(store.openLister("journal-pending")).toBeUndefined();
  });

  it("counts what insertIfAbsent wrote, not what it left", async () => {
    const insert = store.inserter<{ n: number }>("outbox");
    if (!insert) throw new Error("no inserter");
    await store.namespace("outbox").set("sent", { n: 0 }, 60_000);
    expect(await insert([{ key: "new", value: { n: 1 } }, { key: "sent", value: { n: 2 } }, { key: "kept", value: { n: 3 }, ttlMs: 60_000 }]))
      .toEqual([true, false, true]);
    expect(await listed("outbox")).toEqual([["new", { n: 1 }]]);
  });

  it("lists every one across pages", async () => {
    const outbox = store.namespace<number>("outbox");
    const keys = Array.from({ length: 2_100 }, (_, i) => `t${String(i).padStart(5, "0")}`);
    await Promise.all(keys.map((k, i) => outbox.set(k, i, i % 3 === 0 ? 60_000 : undefined)));
    expect((await listed("outbox")).map(([k]) => k)).toEqual(keys.filter((_, i) => i % 3 !== 0));
  });
});

describe("store: entries without expiry that cannot be read", () => {
  it("skips such an entry, tells its key and why, and lists the rest", async () => {
    const rows: Array<[string, unknown]> = [
      ["journal:a", JSON.stringify({ value: { n: 1 } })],
      ["journal:broken", "{not json"],
      ["journal:odd", 42],
      ["journals:x", JSON.stringify({ value: 1 })],
      ["journal:b", JSON.stringify({ value: { n: 2 } })],
    ];
    const adapter = { listOpen: async function* () { yield* rows; } };
    const told: Array<[string, string]> = [];
    const out: Array<[string, unknown]> = [];
    for await (const entry of namespaceOpenLister(adapter, "journal", (key, reason) => told.push([key, reason]))()) out.push(entry);
    expect(out).toEqual([["a", { n: 1 }], ["b", { n: 2 }]]);
    expect(told.map(([key]) => key)).toEqual(["broken", "odd"]);
    expect(told[1]?.[1]).toBe("stored as number, not as text");
    expect(told[0]?.[1]).not.toBe("");
  });
});
