// The SQLite adapter keeps one prepared statement per SQL text (src/store/sqlite-connection.ts) and pads key and row
// lists to a few sizes (src/store/sqlite-statements.ts): the statements it keeps stay few however many writes of
// however many sizes it runs, a padded list reads and writes exactly what the unpadded one would, and disconnect
// finalizes every kept statement so SQLite closes the database cleanly (it refuses with a statement left open).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Keyv from "keyv";
import { CoalescingKeyvSqlite } from "../../../src/store/sqlite-adapter";
import { padded, paddedSize, sizedChunks } from "../../../src/store/sqlite-connection";

describe("the SQLite adapter's prepared statements", () => {
  let dir: string;
  let now = 1_000_000;
  const adapters: CoalescingKeyvSqlite[] = [];
  const open = async (file = path.join(dir, `s${adapters.length}.sqlite`)): Promise<CoalescingKeyvSqlite> => {
    const adapter = new CoalescingKeyvSqlite({ uri: `sqlite://${file}` }, { now: () => now });
    adapters.push(adapter);
    await adapter.whenReady();
    await adapter.query("PRAGMA journal_mode=WAL");
    return adapter;
  };

  beforeEach(() => {
    now = 1_000_000;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mab-sqlite-stmts-"));
  });
  afterEach(async () => {
    await Promise.all(adapters.splice(0).map((a) => a.disconnect().catch(() => undefined)));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("pads a list to the next power of two (at most the maximum) by repeating its last item", () => {
    expect([1, 2, 3, 4, 5, 9, 512, 513, 2000].map((n) => paddedSize(n, 1024))).toEqual([1, 2, 4, 4, 8, 16, 512, 1024, 1024]);
    expect(padded(["a", "b", "c"], 1024)).toEqual(["a", "b", "c", "c"]);
    expect(padded([], 8)).toEqual([]);
  });

  it("cuts a long list into powers of two and pads only a short rest, keeping every item once and in order", () => {
    const lengths = (n: number): number[] => sizedChunks(Array.from({ length: n }, (_, i) => i), 512).map((c) => c.length);
    expect(lengths(3)).toEqual([4]);
    expect(lengths(12)).toEqual([8, 4]);
    expect(lengths(180)).toEqual([128, 32, 16, 4]);
    expect(lengths(1100)).toEqual([512, 512, 64, 8, 4]);
    const items = Array.from({ length: 1100 }, (_, i) => i);
    expect([...new Set(sizedChunks(items, 512).flat())]).toEqual(items);
  });

  it("keeps a few statements however many writes and reads of however many keys run, and prepares none again", async () => {
    const adapter = await open();
    const round = async (r: number): Promise<void> => {
      for (let n = 1; n <= 40; n++) {
        const keys = Array.from({ length: n }, (_, i) => `r${r}:k${n}:${i}`);
        await Promise.all(keys.map((k) => adapter.set(k, `v${k}`)));
        expect(await adapter.getMany(keys)).toEqual(keys.map((k) => `v${k}`));
        expect(await adapter.insertIfAbsent(keys.map((k) => ({ key: k, value: "other" })))).toEqual(keys.map(() => false));
        expect(await Promise.all(keys.map((k) => adapter.delete(k)))).toEqual(keys.map(() => true));
      }
    };
    await round(1);
    const kept = await adapter.preparedStatements();
    // 1..40 keys pad to 7 sizes (1, 2, 4, …, 64); select, delete, upsert and insert for each, and BEGIN, COMMIT.
    expect(kept).toBeLessThanOrEqual(4 * 7 + 3);
    await round(2);
    expect(await adapter.preparedStatements()).toBe(kept);
    // Longer lists (beyond 64) are prepared for their run only: none more kept, and they read and write as the short.
    const long = Array.from({ length: 300 }, (_, i) => `long:${i}`);
    await Promise.all(long.map((k) => adapter.set(k, k)));
    expect(await adapter.getMany(long)).toEqual(long);
    expect(await Promise.all(long.map((k) => adapter.delete(k)))).toEqual(long.map(() => true));
    expect(await adapter.preparedStatements()).toBe(kept);
  });

  it("a padded insert says per entry whether it wrote, and replaces an expired entry only once", async () => {
    const adapter = await open();
    await adapter.set("live", "old");
    await adapter.set("expired", "old", 10);
    now += 1000; // "expired" has expired
    // Three entries pad to four: the last ("expired") is bound twice; the second copy finds it live and leaves it.
    expect(await adapter.insertIfAbsent([{ key: "new", value: "n" }, { key: "live", value: "x" }, { key: "expired", value: "e" }]))
      .toEqual([true, false, true]);
    expect(await adapter.getMany(["new", "live", "expired"])).toEqual(["n", "old", "e"]);
    // Three deletes pad to four: each says whether its key was there.
    expect(await Promise.all(["new", "missing", "expired"].map((k) => adapter.delete(k)))).toEqual([true, false, true]);
  });

  it("disconnect finalizes every kept statement: SQLite closes the database and removes its WAL", async () => {
    const file = path.join(dir, "closed.sqlite");
    const adapter = await open(file);
    await Promise.all([adapter.set("a", "1"), adapter.set("b", "2")]);
    await adapter.delete("a");
    expect(await adapter.get("b")).toBe("2");
    for await (const entry of adapter.iterator()) expect(entry).toEqual(["b", "2"]);
    expect(await adapter.preparedStatements()).toBeGreaterThan(3);
    expect(fs.existsSync(`${file}-wal`)).toBe(true);
    await adapter.disconnect();
    expect(await adapter.preparedStatements()).toBe(0);
    // The last connection to close checkpoints and deletes the WAL, which SQLite does only when the close succeeds.
    expect(fs.existsSync(`${file}-wal`)).toBe(false);
    await expect(adapter.get("b")).rejects.toThrow(/closed/);
    const reopened = await open(file);
    expect(await reopened.get("b")).toBe("2");
  });

  it("answers keyv's has and clear as @keyv/sqlite did", async () => {
    const adapter = await open();
    const kv = new Keyv({ store: adapter, namespace: "ns" });
    await kv.set("k", 1);
    expect(await kv.has("k")).toBe(true);
    expect(await kv.has("other")).toBe(false);
    await kv.clear();
    expect(await kv.get("k")).toBeUndefined();
  });
});
