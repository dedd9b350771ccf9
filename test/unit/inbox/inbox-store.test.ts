// The standby's transaction queue (src/inbox) against real PostgreSQL and Redis servers: what one process adds,
// another lists in arrival order, and it is gone once removed; the poll of an empty queue finds nothing.
import { openInboxStore, type InboxStore } from "../../../src/inbox";
import { parseStoreUrl } from "../../../src/store";
import { describeEachBackend, freshStore, type TestStore } from "../../support/backends";

describeEachBackend("standby transaction queue", (backend) => {
  let store: TestStore;
  const opened: InboxStore[] = [];
  const open = (): InboxStore => {
    const inbox = openInboxStore(parseStoreUrl(store.url), 5000, () => undefined);
    if (!inbox) throw new Error("no inbox store");
    opened.push(inbox);
    return inbox;
  };
  beforeEach(async () => {
    store = await freshStore(backend);
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close().catch(() => undefined)));
    await store.drop();
  });

  it("what the standby adds the active lists oldest first, a page at a time, until removed", async () => {
    const standby = open();
    const active = open();
    expect(await active.list(10)).toEqual([]);
    for (let i = 1; i <= 5; i++) await standby.add(`t${i}`, JSON.stringify({ events: [], n: i }));
    const page = await active.list(3);
    expect(page.map((h) => h.txnId)).toEqual(["t1", "t2", "t3"]);
    expect(JSON.parse(page[0]?.body ?? "")).toEqual({ events: [], n: 1 });
    await active.remove(page.map((held) => held.id));
    expect((await active.list(10)).map((h) => h.txnId)).toEqual(["t4", "t5"]);
    await active.remove([page[0]?.id ?? ""]); // removing twice is harmless
    await active.remove([]);
    expect((await standby.list(10)).map((h) => h.txnId)).toEqual(["t4", "t5"]);
  });
}, ["postgres", "redis"]);

it("SQLite has no standby, so no transaction queue", () => {
  expect(openInboxStore(parseStoreUrl("sqlite:///tmp/asstandby-none.sqlite"), 5000, () => undefined)).toBeUndefined();
});
