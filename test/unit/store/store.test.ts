import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { KeyvSqlite } from "@keyv/sqlite";
import pino from "pino";
import { Metrics } from "../../../src/metrics";
import { openStore, StoreUnavailableError, type Store } from "../../../src/store";
import { FaultyStoreAdapter, InjectedStoreFault } from "../../support/faulty-store";
import { storeKeys } from "../../support/store-rows";
import { waitFor } from "../../support/wait";
import { describeEachBackend, freshStore, rawKeys, type TestStore } from "../../support/backends";

const logger = pino({ level: "silent" });

describe("sqlite store", () => {
  let dir: string;
  const opened: Store[] = [];
  const open = async (url: string, extra: Partial<Parameters<typeof openStore>[1]> = {}): Promise<Store> => {
    const store = await openStore(url, { logger, ...extra });
    opened.push(store);
    return store;
  };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mab-store-"));
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close().catch(() => undefined)));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("creates missing parent directories for its file", async () => {
    const file = path.join(dir, "nested", "deeper", "bot.sqlite");
    const first = await open(`sqlite://${file}`);
    expect(first.backend).toBe("sqlite");
    await first.namespace<string>("journal").set("$ev:example.org", "done");
    await first.close();
    expect(fs.existsSync(file)).toBe(true);
  });

  it("counts its writes, the commits that carried them and its reads, and /metrics shows all three", async () => {
    const store = await open(`sqlite://${path.join(dir, "counted.sqlite")}`);
    const start = store.writeStats();
    expect(start).toEqual({ writes: expect.any(Number), commits: expect.any(Number), reads: expect.any(Number) });
    const kv = store.namespace<number>("counted");
    await kv.set("a", 1);
    expect(await kv.get("a")).toBe(1);
    await kv.delete("a");
    const after = store.writeStats();
    expect(after?.writes).toBe((start?.writes ?? 0) + 2);
    expect(after?.commits).toBe((start?.commits ?? 0) + 2); // awaited one after the other: a commit each
    expect(after?.reads).toBe((start?.reads ?? 0) + 1);
    const metrics = new Metrics({ processMetrics: false });
    metrics.watchStore(() => store.writeStats());
    const text = await metrics.text();
    expect(text).toContain(`matrix_agent_bot_store_writes_total ${after?.writes}`);
    expect(text).toContain(`matrix_agent_bot_store_commits_total ${after?.commits}`);
    expect(text).toContain(`matrix_agent_bot_store_reads_total ${after?.reads}`);
  });

  it("runs the sqlite file in WAL journal mode", async () => {
    const file = path.join(dir, "wal.sqlite");
    const store = await open(`sqlite://${file}`);
    await store.namespace<number>("journal").set("x", 1);
    // Ask through a second, independent connection: WAL is a property of the database file.
    const probe = new KeyvSqlite({ uri: `sqlite://${file}` });
    try {
      const rows = (await probe.query("PRAGMA journal_mode")) as Array<{ journal_mode: string }>;
      expect(rows[0]?.journal_mode).toBe("wal");
    } finally {
      await probe.disconnect();
    }
    expect(fs.existsSync(`${file}-wal`)).toBe(true);
  });

  it("reports an sqlite path it cannot open as a configuration error", async () => {
    const blocker = path.join(dir, "a-file");
    fs.writeFileSync(blocker, "not a directory");
    await expect(openStore(`sqlite://${path.join(blocker, "bot.sqlite")}`, { logger })).rejects.toMatchObject({
      name: "StoreConfigError",
    });
  });

  it("lets a health probe in flight finish before it closes: no probe key is left behind, and a probe key expires", async () => {
    const file = path.join(dir, "bot.sqlite");
    let slow!: FaultyStoreAdapter;
    const store = await open(`sqlite://${file}`, { wrapAdapter: (a) => (slow = new FaultyStoreAdapter(a)) });
    slow.delay(50); // the probe's write, read and delete each wait: close() comes in between
    const probing = store.healthCheck();
    await store.close();
    await probing;
    const keys = await storeKeys(dir);
    expect(keys.filter((k) => k.includes("store-health"))).toEqual([]);

    const reopened = await open(`sqlite://${file}`, { wrapAdapter: (a) => (slow = new FaultyStoreAdapter(a)) });
    slow.failNext("delete"); // a probe cut short between its write and its delete
    await expect(reopened.healthCheck()).rejects.toBeInstanceOf(StoreUnavailableError);
    expect((await reopened.countRows())?.total).toBe(1);
    expect(await expiresOfProbes(file)).toEqual([expect.any(Number)]); // swept once expired, never kept
  });
});

/** The expiry column of every health-probe row of the sqlite file. */
async function expiresOfProbes(file: string): Promise<unknown[]> {
  const db = new KeyvSqlite({ uri: `sqlite://${file}` });
  try {
    const rows = (await db.query("SELECT expires FROM keyv WHERE key LIKE 'store-health:%'")) as Array<{ expires: unknown }>;
    return rows.map((r) => r.expires);
  } finally {
    await db.disconnect();
  }
}

// The same contract on every backend: SQLite, and PostgreSQL and Redis when their servers run (test/support/backends.ts).
describeEachBackend("store contract", (backend) => {
  let test: TestStore;
  let url: string;
  const opened: Store[] = [];
  const open = async (at: string, extra: Partial<Parameters<typeof openStore>[1]> = {}): Promise<Store> => {
    const store = await openStore(at, { logger, ...extra });
    opened.push(store);
    return store;
  };

  beforeEach(async () => {
    test = await freshStore(backend);
    url = test.url;
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close().catch(() => undefined)));
    await test.drop();
  });

  it("keeps data across close and reopen", async () => {
    const first = await open(url);
    expect(first.backend).toBe(backend);
    await first.namespace<{ token: string }>("sync").set("since", { token: "s72594_4483_1934" });
    await first.namespace<string>("journal").set("$ev:example.org", "done");
    await first.close();

    const second = await open(url);
    expect(await second.namespace<{ token: string }>("sync").get("since")).toEqual({ token: "s72594_4483_1934" });
    expect(await second.namespace<string>("journal").get("$ev:example.org")).toBe("done");
    expect(await second.namespace<string>("journal").get("$other:example.org")).toBeUndefined();
  });

  it("round-trips JSON-shaped values with keyv's default serialization", async () => {
    const store = await open(url);
    const kv = store.namespace<unknown>("settings");
    const values: unknown[] = [
      "plain",
      ":starts with a colon",
      ":base64:not really",
      "ünïcødé 🧵 \u0000 nul",
      0,
      -12.5,
      true,
      null,
      [1, "two", { three: [3] }],
      { nested: { list: ["a", ":b"], n: 1 }, empty: {} },
    ];
    for (const [i, value] of values.entries()) await kv.set(`k${i}`, value);
    for (const [i, value] of values.entries()) expect(await kv.get(`k${i}`)).toEqual(value);
  });

  it("keeps namespaces apart, for get, has, clear and iteration", async () => {
    const store = await open(url);
    const journal = store.namespace<string>("journal");
    const outbox = store.namespace<string>("outbox");
    expect(store.namespace<string>("journal")).toBe(journal);

    await journal.set("same-key", "journal value");
    await outbox.set("same-key", "outbox value");
    // keyv alone treats "journal:x" as already prefixed, i.e. the same row as "x"; ours does not.
    await journal.set("journal:x", "prefixed-looking key");
    await journal.set("x", "plain key");

    expect(await journal.get("same-key")).toBe("journal value");
    expect(await outbox.get("same-key")).toBe("outbox value");
    expect(await journal.get("journal:x")).toBe("prefixed-looking key");
    expect(await journal.get("x")).toBe("plain key");
    expect(await outbox.has("x")).toBe(false);

    const listed: Array<[string, string]> = [];
    for await (const [key, value] of journal.iterator!(undefined)) listed.push([key as string, value as string]);
    expect(listed.sort()).toEqual(
      [
        ["journal:x", "prefixed-looking key"],
        ["same-key", "journal value"],
        ["x", "plain key"],
      ].sort(),
    );

    // The namespace created last must not decide what an earlier one clears.
    store.namespace<string>("settings");
    await journal.clear();
    expect(await journal.get("same-key")).toBeUndefined();
    expect(await journal.get("x")).toBeUndefined();
    expect(await outbox.get("same-key")).toBe("outbox value");
  });

  it("rejects invalid and reserved namespace names", async () => {
    const store = await open(url);
    expect(() => store.namespace("Journal")).toThrow(TypeError);
    expect(() => store.namespace("a:b")).toThrow(TypeError);
    expect(() => store.namespace("")).toThrow(TypeError);
    expect(() => store.namespace("store-health")).toThrow(/reserved/);
  });

  it("closes idempotently and refuses new namespaces afterwards", async () => {
    const store = await open(url);
    await store.close();
    await store.close();
    expect(() => store.namespace("journal")).toThrow(/closed/);
    await expect(store.healthCheck()).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it("keys made of maximum-length Matrix ids (255 bytes each) are stored, read, listed and deleted", async () => {
    const store = await open(url);
    const server = `${"s".repeat(240)}.example.org`; // 252 bytes
    const roomId = `!${"r".repeat(255 - 2 - server.length)}:${server}`;
    const eventId = `$${"E".repeat(254)}`;
    const userId = `@${"u".repeat(255 - 2 - server.length)}:${server}`;
    for (const id of [roomId, eventId, userId]) expect(Buffer.byteLength(id)).toBe(255);
    const journal = store.namespace<string>("journal");
    // Beyond any index's key limit too: four ids and 400 bytes more (postgres stores such a key hashed).
    const keys = [`${roomId}|${eventId}`, `${roomId}|${userId}|${eventId}|🧵`, `${roomId}|${eventId}`.replace("E", "F"),
      `${roomId}|${userId}|${eventId}|${eventId}|${"🧵".repeat(100)}`];
    for (const [i, key] of keys.entries()) await journal.set(key, `v${i}`);
    for (const [i, key] of keys.entries()) expect(await journal.get(key)).toBe(`v${i}`);
    const listed: string[] = [];
    for await (const [key] of journal.iterator!(undefined)) listed.push(String(key));
    expect(listed.sort()).toEqual([...keys].sort());
    expect(await journal.delete(keys[1]!)).toBe(true);
    expect(await journal.get(keys[1]!)).toBeUndefined();
    expect(await journal.get(keys[0]!)).toBe("v0");
  });

  it("an entry written with a ttl is gone once it expires, from reads, listings and the store itself", async () => {
    const store = await open(url);
    const runs = store.namespace<string>("proactive-runs");
    await runs.set("brief", "expires", 200);
    await runs.set("kept", "stays");
    const ns = (k: string): boolean => k.startsWith("proactive-runs:");
    await waitFor(async () => (await runs.get("brief")) === undefined, { what: "the entry expired" });
    const listed: string[] = [];
    for await (const [key] of runs.iterator!(undefined)) listed.push(String(key));
    expect(listed).toEqual(["kept"]);
    await runs.set("brief-2", "expires", 200);
    // sqlite and postgres: the sweep deletes it; redis: the server expires it itself.
    await waitFor(async () => {
      await store.deleteExpired(100);
      return (await rawKeys(test)).filter(ns).length === 1;
    }, { what: "the expired entry removed from the store" });
    expect((await rawKeys(test)).filter(ns)).toEqual(["proactive-runs:kept"]);
  });

  describe("store failures surface as errors, never as missing data", () => {
    let faulty: FaultyStoreAdapter;
    let store: Store;

    beforeEach(async () => {
      store = await open(url, {
        logger,
        healthCheckTimeoutMs: 5000, // generous: a healthy store must pass even on a loaded machine
        wrapAdapter: (a) => (faulty = new FaultyStoreAdapter(a)),
      });
    });
    afterEach(() => {
      faulty.heal();
    });

    it("a failing read rejects instead of returning undefined", async () => {
      const journal = store.namespace<string>("journal");
      await journal.set("$seen", "handled");
      faulty.failNext("get");
      await expect(journal.get("$seen")).rejects.toBeInstanceOf(InjectedStoreFault);
      expect(await journal.get("$seen")).toBe("handled");

      faulty.failNext("get");
      await expect(journal.getMany(["$seen", "$other"])).rejects.toBeInstanceOf(InjectedStoreFault);
      faulty.failNext("get");
      await expect(journal.has("$seen")).rejects.toBeInstanceOf(InjectedStoreFault);
      expect(faulty.failures.get).toBe(3);
    });

    it("a failing write or delete rejects and leaves the old value", async () => {
      const settings = store.namespace<{ on: boolean }>("settings");
      await settings.set("!room", { on: true });
      const custom = new Error("disk full");
      faulty.failNext("set", 1, custom);
      await expect(settings.set("!room", { on: false })).rejects.toBe(custom);
      faulty.failNext("delete");
      await expect(settings.delete("!room")).rejects.toBeInstanceOf(InjectedStoreFault);
      expect(await settings.get("!room")).toEqual({ on: true });
    });

    it("failNext counts down and 'any' matches every kind of op", async () => {
      const kv = store.namespace<number>("outbox");
      faulty.failNext("any", 2);
      await expect(kv.set("a", 1)).rejects.toThrow(/injected/);
      await expect(kv.get("a")).rejects.toThrow(/injected/);
      await kv.set("a", 1);
      expect(await kv.get("a")).toBe(1);
      expect(faulty.calls.set).toBe(2);
      expect(faulty.calls.get).toBe(2);
    });

    it("healthCheck passes on a working store and fails during an outage, then recovers", async () => {
      await store.healthCheck();
      faulty.failAll(true);
      await expect(store.healthCheck()).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.namespace<number>("journal").get("x")).rejects.toBeInstanceOf(InjectedStoreFault);
      faulty.failAll(false);
      await store.healthCheck();
    });

    it("healthCheck fails when the store stops answering in time", async () => {
      let slow!: FaultyStoreAdapter;
      const impatient = await open(url, {
        logger, healthCheckTimeoutMs: 20, wrapAdapter: (a) => (slow = new FaultyStoreAdapter(a)),
      });
      try {
        slow.delay(200);
        const callsBefore = slow.totalCalls;
        await expect(impatient.healthCheck()).rejects.toThrow(/no answer within 20 ms/);
        // Let the slowed-down probe (write, read back, delete) finish before the store closes.
        await waitFor(() => slow.totalCalls >= callsBefore + 3 && slow.inFlight === 0, { what: "the slowed-down probe finished" });
      } finally {
        slow.heal();
      }
    });
  });
});
