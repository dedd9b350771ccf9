// The journal's append (record() on a store with insertIfAbsent: no read before the writes) keeps every guarantee of
// the read-first path, on SQLite, PostgreSQL and Redis: an event is handed out once, a redelivery of a done one is
// not new and leaves no index entry, an entry a refused attempt wrote is handed out at its redelivery, a late
// (reopened) event stays late, a failed append loses nothing, and on SQLite a fresh batch costs one commit, no read.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import pino from "pino";
import { journalStores } from "../../../src/app/journal-stores";
import type { RoomEvent } from "../../../src/matrix/events";
import { Journal, type JournalStores } from "../../../src/matrix/journal";
import { openStore, type Store } from "../../../src/store";
import { describeEachBackend, freshStore, rawKeys, type TestStore } from "../../support/backends";

const ROOM = "!r:example.org";
const event = (n: number): RoomEvent => ({
  event_id: `$e${n}`, room_id: ROOM, type: "m.room.message", sender: "@alice:example.org",
  origin_server_ts: 1_700_000_000_000 + n, content: { msgtype: "m.text", body: `message ${n}` },
}) as RoomEvent;
const ids = (events: RoomEvent[]): string[] => events.map((e) => e.event_id);

describeEachBackend("Journal append", (backend) => {
  let dir: string;
  let test: TestStore;
  const opened: Store[] = [];

  const open = async (adapt: (stores: JournalStores) => JournalStores = (s) => s): Promise<{ journal: Journal; store: Store }> => {
    const store = await openStore(test.url, { logger: pino({ level: "silent" }) });
    opened.push(store);
    const stores = journalStores(store);
    expect(stores.insertNew).toBeDefined();
    return { journal: new Journal(adapt(stores), pino({ level: "silent" })), store };
  };
  const pendingKeys = async (): Promise<string[]> => (await rawKeys(test)).filter((k) => k.startsWith("journal-pending:"));
  const openKeys = async (store: Store): Promise<string[]> => {
    const keys: string[] = [];
    for await (const [key] of store.openLister("journal")?.() ?? []) keys.push(key);
    return keys.sort();
  };

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mab-journal-append-"));
    test = await freshStore(backend, dir);
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close().catch(() => undefined)));
    await test.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("records a batch once; a done event redelivered is not new and leaves no index entry; the rest comes back after a restart", async () => {
    const { journal, store } = await open();
    expect(ids(await journal.record([event(1), event(2), event(1), event(3)]))).toEqual(["$e1", "$e2", "$e3"]);
    expect(ids(await journal.record([event(2), event(4)]))).toEqual(["$e4"]);
    await journal.complete(ROOM, "$e2");
    await store.close();
    const again = await open();
    expect(ids(await again.journal.record([event(2), event(5)]))).toEqual(["$e5"]); // $e2 done: read, not new
    // The pending set is the entries' own (listed without expiry): no index entry is written.
    expect(await pendingKeys()).toEqual([]);
    expect(await openKeys(again.store)).toEqual(["$e1", "$e3", "$e4", "$e5"].map((id) => Journal.key(ROOM, id)));
    expect(ids(await again.journal.unfinished())).toEqual(["$e1", "$e3", "$e4", "$e5"]);
    expect(await again.journal.record([event(1)])).toEqual([]); // handed out by the recovery
  });

  it("hands out at its redelivery an entry a refused attempt wrote, once", async () => {
    const { journal, store } = await open();
    // What a refused attempt of another process leaves: the index and a pending entry, nothing handed out here.
    await store.namespace<number>("journal-pending").set(Journal.key(ROOM, "$e1"), 1);
    await store.namespace("journal").set(Journal.key(ROOM, "$e1"), { status: "pending", json: JSON.stringify(event(1)), receivedAt: 1 });
    expect(ids(await journal.record([event(1), event(2)]))).toEqual(["$e1", "$e2"]);
    expect(await journal.record([event(1), event(2)])).toEqual([]);
  });

  it("keeps a reopened (late) event late: not new again, pending or done, before and after a restart", async () => {
    const { journal, store } = await open();
    await journal.record([event(1)]);
    await journal.complete(ROOM, "$e1");
    expect(await journal.reopen(event(1))).toBe(true);
    expect(await journal.record([event(1)])).toEqual([]);
    await store.close();
    const again = await open();
    expect(await again.journal.record([event(1)])).toEqual([]); // pending and late, not handed out here yet
    expect(ids(await again.journal.unfinished())).toEqual(["$e1"]);
    await again.journal.complete(ROOM, "$e1");
    expect(await again.journal.record([event(1)])).toEqual([]);
    expect(await again.journal.reopen(event(1))).toBe(false);
  });

  it("hands an event to one of two batches carrying it at once", async () => {
    const { journal } = await open();
    const [a, b] = await Promise.all([journal.record([event(1), event(2)]), journal.record([event(2), event(3)])]);
    expect([...ids(a), ...ids(b)].sort()).toEqual(["$e1", "$e2", "$e3"]);
  });

  it("a failed append refuses the batch and loses nothing: its redelivery is handed out in full", async () => {
    let fail = true;
    const { journal } = await open((stores) => ({ ...stores, insertNew: async (entries) => {
      const wrote = await (stores.insertNew as NonNullable<JournalStores["insertNew"]>)(entries);
      if (fail) throw new Error("injected: the commit's answer was lost");
      return wrote;
    } }));
    await expect(journal.record([event(1), event(2)])).rejects.toThrow("injected");
    fail = false;
    expect(ids(await journal.record([event(1), event(2)]))).toEqual(["$e1", "$e2"]);
    expect(await journal.record([event(1), event(2)])).toEqual([]);
  });

  if (backend === "sqlite") {
    it("records a fresh batch in one commit with no read", async () => {
      const { journal, store } = await open();
      const before = store.writeStats();
      expect(ids(await journal.record([event(1), event(2), event(3)]))).toEqual(["$e1", "$e2", "$e3"]);
      const after = store.writeStats();
      expect(after?.commits).toBe((before?.commits ?? 0) + 1);
      expect(after?.reads).toBe(before?.reads);
    });
  }
});
