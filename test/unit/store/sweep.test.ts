// The store's sweep: what the bot writes with a ttl (journal "done" markers, appservice transaction ids, sent
// outbox records, dead letters, proactive run records), each written by the part that writes it in production
// with its production ttl, is gone after the sweep that follows its expiry; everything else stays. Time is a
// clock the test moves (the store measures expiry on it), so days pass in milliseconds.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import pino from "pino";
import { AppserviceServer, type AppserviceTxnRecord } from "../../../src/matrix/appservice-server";
import type { RoomEvent } from "../../../src/matrix/events";
import { Journal } from "../../../src/matrix/journal";
import { Outbox } from "../../../src/outbox";
import { ProactiveFanout } from "../../../src/proactive/fanout";
import type Keyv from "keyv";
import { openStore, StoreSweeper, type Store } from "../../../src/store";
import { describeEachBackend, freshStore, rawKeys, type BackendName, type TestStore } from "../../support/backends";
import { accepted, failed, FakeSender, waitUntil } from "../outbox/support";

const DAY = 24 * 3600 * 1000;
const HS_TOKEN = "hs-token-sweep-test";
const silent = pino({ level: "silent" });

/** The production writers of every kind of expiring record, on one store whose clock the test moves. */
class World {
  now = Date.UTC(2026, 0, 1);
  store!: Store;
  journal!: Journal;
  outbox!: Outbox;
  fanout!: ProactiveFanout;
  appservice!: AppserviceServer;
  port = 0;
  private readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "mab-sweep-"));
  private test!: TestStore;

  constructor(private readonly backend: BackendName) {}
  private readonly sender = new FakeSender((call) => (call.roomId === "!gone:x" ? failed("forbidden", 403, true) : accepted(call)));
  private seq = 0;

  async open(): Promise<this> {
    this.test = await freshStore(this.backend, this.dir);
    this.store = await openStore(this.test.url, { logger: silent, clock: () => this.now });
    const pending = this.store.namespace<number>("journal-pending");
    this.journal = new Journal({ entries: this.store.namespace("journal"), pending, listPending: () => list(pending) }, silent);
    this.outbox = new Outbox({ store: this.store, sender: this.sender, log: silent, concurrency: 4, now: () => this.now });
    await this.outbox.recover();
    this.fanout = new ProactiveFanout({ proactiveRooms: async () => [], isJoined: async () => true, log: silent,
      outbox: { enqueue: async () => undefined }, recordedRuns: this.store.namespace<string[]>("proactive-runs") });
    this.appservice = new AppserviceServer({ host: "127.0.0.1", port: 0, hsToken: HS_TOKEN, botUserId: "@bot:x", userNamespaceRegexes: [],
      bodyLimitBytes: 65_536, txnStore: this.store.namespace<AppserviceTxnRecord>("appservice-txn"), onBatch: async () => undefined, log: silent });
    this.port = (await this.appservice.start()).port;
    return this;
  }

  /** One of each kind, tagged: a handled event, a transaction, a sent reply, a dead letter, a proactive run. */
  async writeEachKind(tag: string): Promise<void> {
    const event: RoomEvent = { event_id: `$${tag}`, room_id: "!r:x", sender: "@a:x", type: "m.room.message", origin_server_ts: 1, content: {} };
    await this.journal.record([event]);
    await this.journal.complete(event.room_id, event.event_id);
    const res = await fetch(`http://127.0.0.1:${this.port}/_matrix/app/v1/transactions/txn-${tag}`, {
      method: "PUT", headers: { authorization: `Bearer ${HS_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ events: [] }) });
    expect(res.status).toBe(200);
    expect((await this.outbox.send("!r:x", "m.room.message", { body: tag }, `sent-${tag}`)).ok).toBe(true);
    expect((await this.outbox.send("!gone:x", "m.room.message", { body: tag }, `dead-${tag}`)).ok).toBe(false);
    await this.fanout.deliver(`run-${tag}`, "*", ["digest"]);
    this.seq += 1;
  }

  /** What the file holds now (expired or not), per namespace, keys sorted. */
  async keys(): Promise<Record<string, string[]>> {
    const out: Record<string, string[]> = {};
    for (const key of await rawKeys(this.test)) {
      const at = key.indexOf(":");
      (out[key.slice(0, at)] ??= []).push(key.slice(at + 1));
    }
    return out;
  }

  async close(): Promise<void> {
    await this.appservice.stop();
    await this.outbox.drain();
    await this.store.close();
    await this.test.drop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

async function* list(keyv: Keyv<number>): AsyncGenerator<[string, unknown]> {
  if (keyv.iterator) for await (const [k, v] of keyv.iterator(undefined)) yield [String(k), v];
}

// SQLite and PostgreSQL: expiry is a column the sweep deletes by (Redis expires entries itself, on its own clock).
describeEachBackend("the store's sweep", (backend) => {
  let world: World | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  it("deletes each kind of record once its ttl has passed and keeps every record that has not expired", async () => {
    const w = (world = await new World(backend).open());
    await w.writeEachKind("old");
    w.now += 29 * DAY;
    await w.writeEachKind("new");
    const sweeper = new StoreSweeper(w.store, { intervalMs: 60_000, batch: 2, log: silent });
    // Day 29: the old transaction id (3 days), "done" marker and sent record (7 days) have expired.
    expect(await sweeper.sweep()).toBe(3);
    expect(await w.keys()).toMatchObject({ journal: ["!r:x|$new"], "appservice-txn": ["txn-new"], outbox: ["dead-new", "dead-old", "sent-new"] });

    w.now += 1 * DAY + 1; // day 30: the old dead letter, its index entry and the old proactive run (30 days) too
    expect(await sweeper.sweep()).toBe(3);
    expect(await w.keys()).toEqual({
      journal: ["!r:x|$new"],
      "appservice-txn": ["txn-new"],
      outbox: ["dead-new", "sent-new"],
      "outbox-dead": ["dead-new"],
      "proactive-runs": ["run-new"],
    });

    w.now += 30 * DAY;
    expect(await sweeper.sweep()).toBe(6);
    expect(await w.keys()).toEqual({});
    expect(await w.store.countRows()).toEqual({ total: 0, live: 0 });
    await sweeper.stop();
  });

  it("never deletes what has no ttl: events still being handled, room settings", async () => {
    const w = (world = await new World(backend).open());
    const event: RoomEvent = { event_id: "$p", room_id: "!r:x", sender: "@a:x", type: "m.room.message", origin_server_ts: 1, content: {} };
    await w.journal.record([event]); // not completed: stays pending
    await w.store.namespace("room-settings").set("!r:x", { proactive: true });
    w.now += 400 * DAY;
    expect(await new StoreSweeper(w.store, { intervalMs: 60_000, batch: 100, log: silent }).sweep()).toBe(0);
    expect(await w.keys()).toEqual({ journal: ["!r:x|$p"], "journal-pending": ["!r:x|$p"], "room-settings": ["!r:x"] });
    expect((await w.journal.unfinished()).map((e) => e.event_id)).toEqual(["$p"]);
  });

  it("a sweep deletes a backlog larger than its batch, batch by batch, and reports it", async () => {
    const w = (world = await new World(backend).open());
    const kv = w.store.namespace<number>("journal");
    await Promise.all(Array.from({ length: 2_345 }, (_, i) => kv.set(`k${i}`, i, 1000)));
    await kv.set("forever", 1);
    w.now += 1001;
    const reports: number[] = [];
    const sweeper = new StoreSweeper(w.store, { intervalMs: 60_000, batch: 500, log: silent, onSwept: (n) => reports.push(n) });
    expect(await sweeper.sweep()).toBe(2_345);
    expect(reports).toEqual([2_345]);
    expect(await w.store.countRows()).toEqual({ total: 1, live: 1 });
  });

  it("runs on its schedule once started, and stop() ends it", async () => {
    const w = (world = await new World(backend).open());
    const kv = w.store.namespace<number>("journal");
    await kv.set("soon", 1, 10);
    w.now += 11;
    const swept: number[] = [];
    const sweeper = new StoreSweeper(w.store, { intervalMs: 20, batch: 100, log: silent, onSwept: (n) => swept.push(n) }).start();
    await waitUntil(() => swept.length === 1, "the scheduled sweep");
    await sweeper.stop();
    expect(await w.store.countRows()).toEqual({ total: 0, live: 0 });
  });
}, ["sqlite", "postgres"]);
