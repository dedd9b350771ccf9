// Entries recorded as a group (`enqueue(entries, { group: true })`, a fan-out chunk): one store write for the group
// instead of an index entry and a record each, and still exactly once across a crash (outbox-store.ts, header).
import type { SendResult } from "../../../src/matrix/sender";
import { OUTBOX_NAMESPACES } from "../../../src/outbox";
import type { Store } from "../../../src/store";
import type { FaultyStoreAdapter } from "../../support/faulty-store";
import { waitFor } from "../../support/wait";
import { accepted, entry, expectSteady, failed, FakeSender, outboxIdle, TestStores, waitUntil } from "./support";

const never = new Promise<SendResult>(() => undefined); // a send the "crash" interrupts

async function keys(store: Store, namespace: string): Promise<string[]> {
  const out: string[] = [];
  const keyv = store.namespace(namespace);
  if (!keyv.iterator) throw new Error("no iterator");
  for await (const [key] of keyv.iterator(undefined)) if (typeof key === "string") out.push(key);
  return out;
}

const rooms = (n: number, prefix = "g"): ReturnType<typeof entry>[] =>
  Array.from({ length: n }, (_, i) => entry(`!r${i}:x`, `${prefix}-${i}`, { origin: { kind: "proactive", runId: "run-1" } }));

describe("outbox record groups", () => {
  let stores: TestStores;
  beforeEach(() => (stores = new TestStores()));
  afterEach(() => stores.cleanup());

  it("records a chunk in one write per group, keeps no pending index, and deletes the group once every member is sent", async () => {
    let faulty!: FaultyStoreAdapter;
    const store = await stores.open((f) => (faulty = f));
    const hold = new Set(["g-3"]);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const sender = new FakeSender(async (call) => {
      if (hold.has(call.txnId)) await released;
      return accepted(call);
    });
    const outbox = stores.outbox(store, sender, { storeBatchSize: 5 });
    const before = faulty.calls.set;
    await outbox.enqueue(rooms(12), { group: true });
    expect(faulty.calls.set - before).toBe(3); // 12 entries, groups of 5: three writes
    expect(await keys(store, OUTBOX_NAMESPACES.pending)).toEqual([]);

    await waitUntil(() => outbox.stats().sent === 11, "all but the held one sent");
    expect(await keys(store, OUTBOX_NAMESPACES.groups)).toHaveLength(1); // g-3's group waits for it
    release();
    await outboxIdle(outbox);
    await waitUntil(() => sender.calls.length === 12, "twelve sends");
    await waitFor(async () => (await keys(store, OUTBOX_NAMESPACES.groups)).length === 0, { what: "the groups deleted" });
    expect((await keys(store, OUTBOX_NAMESPACES.records)).sort()).toEqual(rooms(12).map((e) => e.txnId).sort()); // sent records

    // The same entries again (a replayed run): the sent records keep them from being sent twice.
    await outbox.enqueue(rooms(12), { group: true });
    await expectSteady(() => outboxIdle(outbox), () => expect(sender.calls).toHaveLength(12));
  });

  it("after a crash, recover() sends each member not sent yet exactly once, in its room's order, and cleans the groups", async () => {
    const first = new FakeSender((call) => (call.txnId === "g-2" || call.txnId === "g-5" ? never : accepted(call)));
    const store1 = await stores.open();
    const outbox1 = stores.outbox(store1, first, { storeBatchSize: 4, concurrency: 2 });
    const entries = [...rooms(6), entry("!r2:x", "g-2b", { origin: { kind: "proactive" } })]; // a second message in !r2
    await outbox1.enqueue(entries, { group: true });
    await waitUntil(() => first.calls.length === 6 && outbox1.stats().sent === 4, "four sent, two stuck");
    await outbox1.drain({ abandon: true }); // crash
    await store1.close();

    const second = new FakeSender();
    const store2 = await stores.open();
    const outbox2 = stores.outbox(store2, second);
    expect(await outbox2.recover()).toBe(3);
    await waitUntil(() => outbox2.stats().sent === 3, "recovered members sent");
    expect(second.txnIds().sort()).toEqual(["g-2", "g-2b", "g-5"]);
    expect(second.calls.filter((c) => c.roomId === "!r2:x").map((c) => c.txnId)).toEqual(["g-2", "g-2b"]);
    await waitFor(async () => (await keys(store2, OUTBOX_NAMESPACES.groups)).length === 0, { what: "the groups deleted" });

    expect(await outbox2.recover()).toBe(0);
    await outbox2.enqueue(entries, { group: true });
    await expectSteady(() => outboxIdle(outbox2), () => expect(second.calls).toHaveLength(3));
  });

  it("a member that became a dead letter is not resent after a restart and still counts as dead", async () => {
    const first = new FakeSender((call) => (call.txnId === "g-1" ? failed("forbidden", 403, true) : call.txnId === "g-2" ? never : accepted(call)));
    const store1 = await stores.open();
    const outbox1 = stores.outbox(store1, first);
    await outbox1.enqueue(rooms(3), { group: true });
    await waitUntil(() => outbox1.stats().dead === 1 && outbox1.stats().sent === 1, "one dead, one sent, one stuck");
    await outbox1.drain({ abandon: true });
    await store1.close();

    const second = new FakeSender();
    const store2 = await stores.open();
    const outbox2 = stores.outbox(store2, second);
    expect(await outbox2.recover()).toBe(1);
    await waitUntil(() => outbox2.stats().sent === 1, "the stuck one sent");
    expect(second.txnIds()).toEqual(["g-2"]);
    expect(outbox2.stats().dead).toBe(1);
    expect((await outbox2.deadLetters()).map((d) => d.txnId)).toEqual(["g-1"]);
  });

  it("a crash after the last member's sent record but before the group was deleted: recovery deletes it and sends nothing", async () => {
    let faulty!: FaultyStoreAdapter;
    const first = new FakeSender();
    const store1 = await stores.open((f) => (faulty = f));
    const outbox1 = stores.outbox(store1, first);
    faulty.failNext("delete", 10); // the group's deletion (and any other delete) fails: as if the process died there
    await outbox1.enqueue(rooms(3), { group: true });
    await waitUntil(() => outbox1.stats().sent === 3, "all sent");
    await waitUntil(() => faulty.failures.delete > 0, "the group's deletion failed");
    expect(await keys(store1, OUTBOX_NAMESPACES.groups)).toHaveLength(1);
    await outbox1.drain();
    await store1.close();

    const second = new FakeSender();
    const store2 = await stores.open();
    const outbox2 = stores.outbox(store2, second);
    expect(await outbox2.recover()).toBe(0);
    expect(await keys(store2, OUTBOX_NAMESPACES.groups)).toEqual([]);
    await expectSteady(() => outboxIdle(outbox2), () => expect(second.calls).toHaveLength(0));
  });

  it("the same run enqueued again before recovery ran (a replay at start) is still sent once per member", async () => {
    const first = new FakeSender(() => never);
    const store1 = await stores.open();
    const outbox1 = stores.outbox(store1, first, { concurrency: 1 });
    await outbox1.enqueue(rooms(4), { group: true });
    await waitUntil(() => first.calls.length === 1, "one send under way");
    await outbox1.drain({ abandon: true });
    await store1.close();

    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const second = new FakeSender(async (call) => {
      await gate; // (sends that finish while recover() reads the store are a race of their own, not this test's)
      return accepted(call);
    });
    const store2 = await stores.open();
    const outbox2 = stores.outbox(store2, second);
    await outbox2.enqueue(rooms(4), { group: true }); // the agent replays the run before recover()
    await outbox2.recover();
    open();
    await outboxIdle(outbox2);
    await expectSteady(() => outboxIdle(outbox2), () => expect(second.txnIds().sort()).toEqual(["g-0", "g-1", "g-2", "g-3"]));

    // The group left over from before the crash is cleaned at the next start, and sends nothing.
    await outbox2.drain();
    const third = new FakeSender();
    const store3 = await stores.open();
    const outbox3 = stores.outbox(store3, third);
    expect(await outbox3.recover()).toBe(0);
    expect(await keys(store3, OUTBOX_NAMESPACES.groups)).toEqual([]);
    await expectSteady(() => outboxIdle(outbox3), () => expect(third.calls).toHaveLength(0));
  });

  it("a group that cannot be written is reported, and nothing of it is admitted", async () => {
    let faulty!: FaultyStoreAdapter;
    const sender = new FakeSender();
    const store = await stores.open((f) => (faulty = f));
    const outbox = stores.outbox(store, sender);
    faulty.failNext("set");
    await expect(outbox.enqueue(rooms(3), { group: true })).rejects.toThrow(/could not record 3 message/);
    expect(outbox.pendingCount()).toBe(0);
    await outbox.enqueue(rooms(3), { group: true }); // the caller enqueues again
    await waitUntil(() => outbox.stats().sent === 3, "sent");
    expect(sender.txnIds().sort()).toEqual(["g-0", "g-1", "g-2"]);
  });
});
