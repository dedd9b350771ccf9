// Transaction ids the homeserver uses again: Synapse 1.67 on SQLite numbers transactions afresh after its restart
// (from the highest id still queued, or 1), so a known id may carry new events. The server keeps a digest of each
// transaction's event ids: the same id with the same events is acknowledged without processing, the same id with
// other events is processed (the journal drops what it saw already) and logged once.
import { waitFor } from "../../support/wait";
import { AppserviceFixture, message } from "./support";

/** Waits until the server recorded the id (it writes the record after the 200). */
async function recorded(as: AppserviceFixture, txnId: string): Promise<void> {
  await waitFor(async () => (await as.store.namespace("appservice-txn").get(txnId)) !== undefined,
    { what: `transaction ${txnId} recorded`, intervalMs: 5 });
}

const reuseLine = (as: AppserviceFixture): unknown[] =>
  as.logLines.map((l) => JSON.parse(l) as { msg: string }).filter((l) => l.msg.startsWith("the homeserver reused a transaction id"));

describe("appservice server: reused transaction ids", () => {
  let as: AppserviceFixture;
  afterEach(async () => as.close());

  it("processes a known id carrying other events, logs that once, and still dedupes a true retry", async () => {
    as = await new AppserviceFixture().start();
    expect((await as.put("1", { events: [message("$a:example.org", "a")] })).status).toBe(200);
    expect((await as.put("1", { events: [message("$b:example.org", "b")] })).status).toBe(200);
    expect((await as.put("1", { events: [message("$b:example.org", "b")] })).status).toBe(200); // a retry of the last
    expect((await as.put("1", { events: [message("$c:example.org", "c")] })).status).toBe(200);
    expect(as.batches.map((b) => b.map((i) => (i.kind === "event" ? i.event.event_id : i.kind)))).toEqual([
      ["$a:example.org"], ["$b:example.org"], ["$c:example.org"]]);
    expect(reuseLine(as)).toHaveLength(1);
  });

  it("knows the digest after a restart: a retry is acknowledged, new events under the id are processed", async () => {
    as = await new AppserviceFixture().start();
    const first = { events: [message("$a:example.org", "a"), message("$b:example.org", "b")] };
    expect((await as.put("7", first)).status).toBe(200);
    await recorded(as, "7");
    await as.restart();
    expect((await as.put("7", first)).status).toBe(200);
    expect(as.batches).toHaveLength(1);
    expect((await as.put("7", { events: [message("$b:example.org", "b"), message("$a:example.org", "a")] })).status).toBe(200);
    expect(as.batches).toHaveLength(2); // other order, other transaction
    expect(reuseLine(as)).toHaveLength(1);
  });

  it("after a start looks ids up until it processed one the store did not know, then answers new ids with no read", async () => {
    as = await new AppserviceFixture().start();
    const first = { events: [message("$a:example.org", "a")] };
    expect((await as.put("7", first)).status).toBe(200);
    await recorded(as, "7");
    await as.restart();
    const reads = (): number => as.store.writeStats()?.reads ?? Number.NaN;
    let before = reads();
    expect((await as.put("7", first)).status).toBe(200); // the retry of what the last process answered: looked up
    expect(as.batches).toHaveLength(1);
    expect(reads()).toBe(before + 1);
    expect((await as.put("8", { events: [message("$b:example.org", "b")] })).status).toBe(200); // new: looked up
    expect(reads()).toBe(before + 2);
    before = reads();
    expect((await as.put("9", { events: [message("$c:example.org", "c")] })).status).toBe(200); // new: no read
    expect((await as.put("9", { events: [message("$c:example.org", "c")] })).status).toBe(200); // its retry: from memory
    expect(reads()).toBe(before);
    expect(as.batches).toHaveLength(3);
  });

  it("processes a known id recorded without a digest (by an earlier version) without calling it a reuse", async () => {
    as = await new AppserviceFixture().start();
    await as.store.namespace("appservice-txn").set("42", { doneAt: 1 });
    expect((await as.put("42", { events: [message("$x:example.org", "x")] })).status).toBe(200);
    expect(as.batches).toHaveLength(1);
    expect(reuseLine(as)).toEqual([]);
  });

  it("leaves no record of a transaction that journaled nothing", async () => {
    let journaled = 0;
    as = await new AppserviceFixture({ onBatch: async () => ({ journaled }) }).start();
    expect((await as.put("t-strangers", { events: [message("$s:example.org", "from a stranger")] })).status).toBe(200);
    journaled = 1;
    expect((await as.put("t-after", { events: [message("$t:example.org", "from alice")] })).status).toBe(200);
    await recorded(as, "t-after"); // the store applies writes in order: one for t-strangers would have landed first
    expect(await as.store.namespace("appservice-txn").get("t-strangers")).toBeUndefined();
  });
});
