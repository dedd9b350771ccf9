// The SQLite adapter coalesces writes that arrive while a commit is in flight into one transaction (group commit).
// Whatever the interleaving, the store must end up as if every write had run alone, in the order it was issued, and
// every delete must say whether the key was there at that point. A failed group fails its own writes only.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { CoalescingKeyvSqlite } from "../../../src/store/sqlite-adapter";

type Op = { kind: "set"; key: string; value: string } | { kind: "delete"; key: string };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), key: fc.constantFrom("a", "b", "c", "d"), value: fc.string({ maxLength: 5 }) }),
  fc.record({ kind: fc.constant("delete" as const), key: fc.constantFrom("a", "b", "c", "d") }),
);

describe("CoalescingKeyvSqlite", () => {
  let dir: string;
  const adapters: CoalescingKeyvSqlite[] = [];
  const open = async (): Promise<CoalescingKeyvSqlite> => {
    const adapter = new CoalescingKeyvSqlite({ uri: `sqlite://${path.join(dir, `s${adapters.length}.sqlite`)}` });
    adapters.push(adapter);
    await adapter.query("PRAGMA journal_mode=WAL");
    return adapter;
  };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mab-sqlite-"));
  });
  afterEach(async () => {
    await Promise.all(adapters.splice(0).map((a) => a.disconnect().catch(() => undefined)));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("concurrent sets and deletes end as if each had run alone, in the order issued", async () => {
    const adapter = await open();
    let round = 0;
    const issued = fc.array(fc.tuple(opArb, fc.nat({ max: 3 })), { maxLength: 40 });
    await fc.assert(fc.asyncProperty(issued, async (steps) => {
      const ops = steps.map(([op]) => op);
      const prefix = `r${(round += 1)}:`;
      const model = new Map<string, string>();
      const expected: Array<boolean | undefined> = ops.map((op) => {
        if (op.kind === "set") {
          model.set(op.key, op.value);
          return undefined;
        }
        return model.delete(op.key);
      });
      // Issued in order, a few microtasks apart or at once: whenever a statement completes, writes can arrive.
      const pending: Array<Promise<boolean | undefined>> = [];
      for (const [op, hops] of steps) {
        for (let i = 0; i < hops; i++) await Promise.resolve();
        pending.push(op.kind === "set" ? adapter.set(prefix + op.key, op.value).then(() => undefined) : adapter.delete(prefix + op.key));
      }
      const results = await Promise.all(pending);
      expect(results).toEqual(expected);
      for (const key of ["a", "b", "c", "d"]) expect(await adapter.get(prefix + key)).toBe(model.get(key));
    }), { numRuns: 60 });
  });

  it("concurrent reads, coalesced into few statements, each get exactly their keys' values", async () => {
    const adapter = await open();
    await Promise.all(Array.from({ length: 50 }, (_, i) => adapter.set(`k${i}`, `v${i}`)));
    const singles = Array.from({ length: 60 }, (_, i) => adapter.get(`k${i}`));
    const many = adapter.getMany(["k3", "missing", "k3", "k49", "k50"]);
    const big = adapter.getMany(Array.from({ length: 1500 }, (_, i) => `k${i % 55}`));
    expect(await Promise.all(singles)).toEqual(Array.from({ length: 60 }, (_, i) => (i < 50 ? `v${i}` : undefined)));
    expect(await many).toEqual(["v3", undefined, "v3", "v49", undefined]);
    expect(await big).toEqual(Array.from({ length: 1500 }, (_, i) => (i % 55 < 50 ? `v${i % 55}` : undefined)));
    expect(await adapter.getMany([])).toEqual([]);
  });

  it("a write issued after another resolved sees it (read-your-writes), and values keep their exact text", async () => {
    const adapter = await open();
    const text = `{"value":"it's \\"quoted\\" and unicode ✓","expires":null}`;
    await adapter.set("k", text);
    expect(await adapter.get("k")).toBe(text);
    expect(await adapter.deleteMany(["k", "missing"])).toBe(true);
    expect(await adapter.deleteMany(["k"])).toBe(false);
  });

  it("concurrent writes share commits: N writes issued together or while one commits take far fewer than N", async () => {
    const adapter = await open();
    await adapter.set("warm", "1");
    const before = { ...adapter.writeStats };
    const n = 200;
    const writes: Array<Promise<unknown>> = [];
    for (let i = 0; i < n; i++) {
      writes.push(i % 3 === 0 ? adapter.delete(`k${i - 3}`) : adapter.set(`k${i}`, `v${i}`));
      if (i % 20 === 0) await new Promise((resolve) => setImmediate(resolve)); // some arrive while one commits
    }
    await Promise.all(writes);
    expect(adapter.writeStats.writes - before.writes).toBe(n);
    const commits = adapter.writeStats.commits - before.commits;
    expect(commits).toBeGreaterThanOrEqual(1);
    expect(commits).toBeLessThan(n / 10);
    // Awaited one after the other, each write needs a commit of its own.
    const serial = adapter.writeStats.commits;
    for (let i = 0; i < 5; i++) await adapter.set(`s${i}`, "x");
    expect(adapter.writeStats.commits - serial).toBe(5);
  });

  it("the writes issued in one tick share one commit however many they are (none durable without the others)", async () => {
    const adapter = await open();
    await adapter.set("warm", "1");
    const before = adapter.writeStats.commits;
    const n = 12_000;
    const writes: Array<Promise<unknown>> = [];
    for (let i = 0; i < n; i++) writes.push(adapter.set(`t${i}`, `v${i}`));
    writes.push(adapter.delete("warm")); // issued last, reaches the adapter with the sets
    await Promise.all(writes);
    expect(adapter.writeStats.commits - before).toBe(1);
    expect(await adapter.get("warm")).toBeUndefined();
    expect(await adapter.get(`t${n - 1}`)).toBe(`v${n - 1}`);
  });

  it("a group that fails rejects the writes it carried, atomically, and the writes before and after work", async () => {
    const adapter = await open();
    await adapter.set("warm", "1"); // the table exists
    await adapter.query("CREATE TRIGGER refuse BEFORE INSERT ON keyv WHEN NEW.key = 'bad' BEGIN SELECT RAISE(ABORT, 'refused'); END");
    const first = adapter.set("first", "1");
    await new Promise((resolve) => setImmediate(resolve)); // "first" goes alone: the next two queue while it commits
    const carried = [adapter.set("bad", "2"), adapter.set("innocent", "3")].map((p) => p.then(() => "ok", () => "failed"));
    await first;
    expect(await Promise.all(carried)).toEqual(["failed", "failed"]);
    await adapter.set("after", "4");
    expect([await adapter.get("first"), await adapter.get("innocent"), await adapter.get("after")]).toEqual(["1", undefined, "4"]);
  });
});
