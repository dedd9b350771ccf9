// A store written by the version before the pending set moved into the entries (src/store/open-entries.ts): the
// journal kept an index entry per pending event ("journal-pending", its arrival order) and the outbox one per pending
// record ("outbox-pending"), with what a crash between two writes could leave. Opened by this version, on SQLite,
// PostgreSQL and Redis: every pending event and message is recovered once, in its order; the index entries are cleaned
// (at recovery, or once what they name is done); nothing is recovered twice after another restart.
import pino from "pino";
import { journalStores } from "../../../src/app/journal-stores";
import type { RoomEvent } from "../../../src/matrix/events";
import { Journal } from "../../../src/matrix/journal";
import { Outbox } from "../../../src/outbox";
import { openStore, type Store } from "../../../src/store";
import { describeEachBackend, freshStore, rawKeys, type TestStore } from "../../support/backends";
import { waitFor } from "../../support/wait";
import { entry, FakeSender, outboxIdle, waitUntil } from "../outbox/support";

const ROOM = "!r:example.org";
const silent = pino({ level: "silent" });
const event = (id: string): RoomEvent => ({
  event_id: id, room_id: ROOM, type: "m.room.message", sender: "@alice:example.org",
  origin_server_ts: 1_700_000_000_000, content: { msgtype: "m.text", body: `message ${id}` },
}) as RoomEvent;

describeEachBackend("a store written in the old layout (pending index entries)", (backend) => {
  let test: TestStore;
  const opened: Store[] = [];
  const outboxes: Outbox[] = [];
  beforeEach(async () => {
    test = await freshStore(backend);
  });
  afterEach(async () => {
    for (const o of outboxes.splice(0)) await o.drain();
    for (const s of opened.splice(0)) await s.close().catch(() => undefined);
    await test.drop();
  });
  const open = async (): Promise<Store> => {
    const store = await openStore(test.url, { logger: silent });
    opened.push(store);
    return store;
  };
  const indexKeys = async (): Promise<string[]> =>
    (await rawKeys(test)).filter((k) => k.startsWith("journal-pending:") || k.startsWith("outbox-pending:"));

  it("the journal recovers the pending events in their order once and cleans the index entries", async () => {
    const old = await open();
    const [index, entries] = [old.namespace<number>("journal-pending"), old.namespace("journal")];
    const pending = (id: string, receivedAt: number) => ({ status: "pending", json: JSON.stringify(event(id)), receivedAt });
    // Two pending events (the later-indexed one first in key order), a done one whose index entry a crash left, an
    // index entry whose entry a crash kept from being written, and a pending entry of the older form (the event object).
    await index.set(Journal.key(ROOM, "$a"), 300.5);
    await entries.set(Journal.key(ROOM, "$a"), pending("$a", 300));
    await index.set(Journal.key(ROOM, "$b"), 100.5);
    await entries.set(Journal.key(ROOM, "$b"), pending("$b", 100));
    await index.set(Journal.key(ROOM, "$c"), 50);
    await entries.set(Journal.key(ROOM, "$c"), { status: "done", at: 60 }, 60_000);
    await index.set(Journal.key(ROOM, "$d"), 70);
    await index.set(Journal.key(ROOM, "$e"), 200);
    await entries.set(Journal.key(ROOM, "$e"), { status: "pending", event: event("$e"), receivedAt: 200 });
    await old.close();

    const store = await open();
    const journal = new Journal(journalStores(store), silent);
    expect((await journal.unfinished()).map((e) => e.event_id)).toEqual(["$b", "$e", "$a"]);
    expect(await journal.record([event("$a"), event("$c"), event("$new")])).toEqual([event("$new")]);
    // The done one's and the missing one's index entries went at recovery; the others go as their events complete.
    expect(await indexKeys()).toEqual(["$a", "$b", "$e"].map((id) => `journal-pending:${Journal.key(ROOM, id)}`));
    for (const id of ["$b", "$e", "$a"]) await journal.complete(ROOM, id);
    expect(await indexKeys()).toEqual([]);
    await store.close();

    const again = new Journal(journalStores(await open()), silent);
    expect((await again.unfinished()).map((e) => e.event_id)).toEqual(["$new"]);
  });

  it("the outbox sends the pending records once and cleans the index entries", async () => {
    const old = await open();
    const [index, records] = [old.namespace("outbox-pending"), old.namespace("outbox")];
    const pending = (txnId: string, seq: number) => ({ status: "pending", entry: entry("!a:x", txnId), seq, enqueuedAt: 1 });
    await index.set("t2", { roomId: "!a:x", seq: 2 });
    await records.set("t2", pending("t2", 2));
    await index.set("t1", { roomId: "!a:x", seq: 1 });
    await records.set("t1", pending("t1", 1));
    await index.set("sent", { roomId: "!a:x", seq: 0 }); // marked sent, the index entry's delete cut short by a crash
    await records.set("sent", { status: "sent", roomId: "!a:x", eventId: "$s", at: 1 }, 60_000);
    await index.set("never", { roomId: "!a:x", seq: 3 }); // the record never written
    await old.close();

    const sender = new FakeSender();
    const outbox = new Outbox({ store: await open(), sender, log: silent, concurrency: 1 });
    outboxes.push(outbox);
    expect(await outbox.recover()).toBe(2);
    await waitUntil(() => outbox.stats().sent === 2, "both sent");
    await outboxIdle(outbox);
    expect(sender.txnIds()).toEqual(["t1", "t2"]);
    await waitFor(async () => (await indexKeys()).length === 0, { what: "the index entries removed" });
    await outbox.drain();
    await opened.at(-1)?.close();

    const again = new Outbox({ store: await open(), sender, log: silent, concurrency: 1 });
    outboxes.push(again);
    expect(await again.recover()).toBe(0);
    expect(sender.txnIds()).toEqual(["t1", "t2"]);
  });
});
