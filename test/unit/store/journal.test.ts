// The inbound journal on a real sqlite store: a batch is recorded once (redeliveries and duplicates inside a batch
// are not new), what was not completed comes back after a restart in arrival order, and a store failure while
// recording loses nothing: the batch is refused, and its redelivery is recorded in full.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import pino from "pino";
import { listNamespace } from "../../../src/app/matrix-helpers";
import type { RoomEvent } from "../../../src/matrix/events";
import { Journal } from "../../../src/matrix/journal";
import { openStore, type Store } from "../../../src/store";
import { FaultyStoreAdapter } from "../../support/faulty-store";
import { describeEachBackend, freshStore, type TestStore } from "../../support/backends";

const event = (n: number, roomId = "!r:example.org"): RoomEvent => ({
  event_id: `$e${n}`, room_id: roomId, type: "m.room.message", sender: "@alice:example.org",
  origin_server_ts: 1_700_000_000_000 + n, content: { msgtype: "m.text", body: `message ${n}` },
}) as RoomEvent;

describeEachBackend("Journal", (backend) => {
  let dir: string;
  let test: TestStore;
  let faulty: FaultyStoreAdapter;
  const opened: Store[] = [];

  /** With the fault injector (writes awaited one phase after the other), or plain (the store orders writes). */
  const open = async (plain = false): Promise<Journal> => {
    const store = await openStore(test.url, { logger: pino({ level: "silent" }),
      ...(plain ? {} : { wrapAdapter: (a) => (faulty = new FaultyStoreAdapter(a)) }) });
    opened.push(store);
    expect(store.writesInIssueOrder).toBe(plain && backend === "sqlite");
    const pending = store.namespace<number>("journal-pending");
    return new Journal({ entries: store.namespace("journal"), pending, listPending: () => listNamespace(pending),
      writesInIssueOrder: store.writesInIssueOrder }, pino({ level: "silent" }));
  };

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mab-journal-"));
    test = await freshStore(backend, dir);
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close().catch(() => undefined)));
    await test.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  // Only our sqlite adapter orders writes (Store.writesInIssueOrder); on the others the journal awaits each phase.
  const variants: Array<[string, boolean]> = [["awaiting each phase", false], ["on a store that orders writes", true]];
  it.each(variants.filter(([, plain]) => !plain || backend === "sqlite"))(
    "records a batch once, and what was not completed comes back after a restart in arrival order (%s)", async (_name, plain) => {
    const journal = await open(plain);
    const batch = [event(1), event(2), event(1), event(3, "!other:example.org")];
    expect((await journal.record(batch)).map((e) => e.event_id)).toEqual(["$e1", "$e2", "$e3"]);
    expect(await journal.record([event(2), event(4)])).toEqual([event(4)]); // a redelivery: only the new one
    await journal.complete("!r:example.org", "$e2");
    expect(await journal.isDone("!r:example.org", "$e2")).toBe(true);

    await opened[0]?.close();
    const reopened = await open(plain);
    expect((await reopened.unfinished()).map((e) => e.event_id)).toEqual(["$e1", "$e3", "$e4"]);
    expect(await reopened.record([event(2)])).toEqual([]); // completed events stay known
  });

  it("a store failure while recording refuses the batch, and its redelivery is recorded in full", async () => {
    const journal = await open();
    const batch = Array.from({ length: 50 }, (_, i) => event(i));
    faulty.failNext("set", 1);
    await expect(journal.record(batch)).rejects.toThrow();
    // Nothing was taken for "seen": the homeserver's retry of the same transaction gets every event through.
    expect(await journal.record(batch)).toHaveLength(50);
    expect(await journal.unfinished()).toHaveLength(50);
  });
});
