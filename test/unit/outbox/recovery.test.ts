import type { SendResult } from "../../../src/matrix/sender";
import { OutboxStoreError } from "../../../src/outbox";
import type { FaultyStoreAdapter } from "../../support/faulty-store";
import { accepted, entry, expectSteady, failed, FakeSender, outboxIdle, TestStores, waitUntil } from "./support";

const never = new Promise<SendResult>(() => undefined); // a send the "crash" interrupts

describe("outbox durability", () => {
  let stores: TestStores;
  beforeEach(() => (stores = new TestStores()));
  afterEach(() => stores.cleanup());

  it("after a restart, recover() delivers what was pending exactly once, and nothing already sent", async () => {
    const first = new FakeSender((call) => (call.txnId.startsWith("hang") ? never : accepted(call)));
    const store1 = await stores.open();
    const outbox1 = stores.outbox(store1, first);
    await outbox1.enqueue([
      entry("!a:x", "sent-1"), entry("!b:x", "sent-2"),
      entry("!c:x", "hang-1"), entry("!c:x", "queued-2"), entry("!c:x", "queued-3"), entry("!d:x", "hang-2"),
    ]);
    await waitUntil(() => outbox1.stats().sent === 2 && first.calls.length === 4, "two sent, two stuck");
    // Crash: nothing more happens in this process.
    await outbox1.drain({ abandon: true });
    await store1.close();

    const second = new FakeSender();
    const outbox2 = stores.outbox(await stores.open(), second);
    expect(outbox2.stats().pending).toBe(0);
    expect(await outbox2.recover()).toBe(4);
    await waitUntil(() => outbox2.stats().sent === 4, "recovered entries sent");
    expect(second.txnIds().sort()).toEqual(["hang-1", "hang-2", "queued-2", "queued-3"]);
    expect(second.calls.filter((c) => c.roomId === "!c:x").map((c) => c.txnId)).toEqual(["hang-1", "queued-2", "queued-3"]);

    // Recovering again, or enqueueing the same entries again, sends nothing more.
    expect(await outbox2.recover()).toBe(0);
    await outbox2.enqueue([entry("!a:x", "sent-1"), entry("!c:x", "hang-1")]);
    await expectSteady(() => outboxIdle(outbox2), () => expect(second.calls).toHaveLength(4));
  });

  it("an entry sent as an appservice user is resent after a restart as that same user", async () => {
    const first = new FakeSender(() => never);
    const store1 = await stores.open();
    const outbox1 = stores.outbox(store1, first);
    void outbox1.send("!a:x", "m.room.message", { msgtype: "m.text", body: "from the coder" }, "mab.run7.m0.0", { kind: "reply" }, "@bot_coder:x");
    await waitUntil(() => first.calls.length === 1, "the send under way");
    await outbox1.drain({ abandon: true });
    await store1.close();

    const second = new FakeSender();
    const outbox2 = stores.outbox(await stores.open(), second);
    expect(await outbox2.recover()).toBe(1);
    await waitUntil(() => outbox2.stats().sent === 1, "resent");
    expect(first.calls[0]).toMatchObject({ txnId: "mab.run7.m0.0", asUser: "@bot_coder:x" });
    expect(second.calls).toEqual([first.calls[0]]);
  });

  it("a crash between the homeserver accepting a send and marking it sent resends with the same txnId", async () => {
    let faulty!: FaultyStoreAdapter;
    const first = new FakeSender((call) => {
      faulty.failAll(true); // the process "dies" right after the PUT succeeded: the sent mark is never written
      return accepted(call);
    });
    const store1 = await stores.open((f) => (faulty = f));
    const outbox1 = stores.outbox(store1, first);
    await outbox1.enqueue([entry("!a:x", "mab.run42.m0.0")]);
    await waitUntil(() => faulty.failures.set > 0, "the sent mark failed");
    await outbox1.drain();
    await store1.close();

    const second = new FakeSender();
    const outbox2 = stores.outbox(await stores.open(), second);
    expect(await outbox2.recover()).toBe(1);
    await waitUntil(() => outbox2.stats().sent === 1, "resent");
    expect(first.txnIds()).toEqual(["mab.run42.m0.0"]);
    expect(second.txnIds()).toEqual(["mab.run42.m0.0"]); // same txnId: the homeserver deduplicates it
    expect(second.calls[0]?.content).toEqual(first.calls[0]?.content);
  });

  it("enqueue rejects during a store outage and sends nothing; once healed, the same entries go out once", async () => {
    let faulty!: FaultyStoreAdapter;
    const sender = new FakeSender();
    const outbox = stores.outbox(await stores.open((f) => (faulty = f)), sender);
    faulty.failAll(true);
    const entries = [entry("!a:x", "t1"), entry("!b:x", "t2")];
    await expect(outbox.enqueue(entries)).rejects.toBeInstanceOf(OutboxStoreError);
    await expectSteady(() => outboxIdle(outbox), () => {
      expect(sender.calls).toHaveLength(0);
      expect(outbox.stats().pending).toBe(0);
    });

    faulty.failAll(false);
    await outbox.enqueue(entries);
    await waitUntil(() => outbox.stats().sent === 2, "sent after the outage");
    expect(sender.txnIds().sort()).toEqual(["t1", "t2"]);
  });

  it("a write failing halfway through a batch rejects; what was recorded is delivered, the retry dedupes", async () => {
    let faulty!: FaultyStoreAdapter;
    const sender = new FakeSender();
    const outbox = stores.outbox(await stores.open((f) => (faulty = f)), sender, { storeBatchSize: 2 });
    const entries = [entry("!a:x", "t1"), entry("!a:x", "t2"), entry("!a:x", "t3"), entry("!a:x", "t4")];
    // The second batch's writes fail (its records, and its index entries where the store keeps them): the first
    // batch is durable, the second is not.
    let failing = true;
    const realSet = faulty.set.bind(faulty);
    faulty.set = async (key: string, value: unknown, ttl?: number) => {
      if (failing && (key.endsWith(":t3") || key.endsWith(":t4"))) throw new Error("disk full");
      return realSet(key, value, ttl);
    };
    await expect(outbox.enqueue(entries)).rejects.toBeInstanceOf(OutboxStoreError);
    failing = false;
    await outbox.enqueue(entries);
    await waitUntil(() => outbox.stats().sent === 4, "all four sent");
    await expectSteady(() => outboxIdle(outbox), () => expect(sender.txnIds()).toEqual(["t1", "t2", "t3", "t4"]));
  });

  it("send() still delivers when the store is down (without a durable record), and says so in the log", async () => {
    let faulty!: FaultyStoreAdapter;
    const sender = new FakeSender();
    const outbox = stores.outbox(await stores.open((f) => (faulty = f)), sender);
    faulty.failAll(true);
    const result = await outbox.send("!a:x", "m.room.message", { body: "hi" }, "t1", { kind: "reply" });
    expect(result).toMatchObject({ ok: true });
    expect(sender.txnIds()).toEqual(["t1"]);
    expect(stores.logs.find((l) => l.level === 50 && l["txnId"] === "t1" && /without a durable record/.test(l.msg ?? ""))).toBeDefined();
  });

  it("after a restart, recover() rebuilds the dead-letter counts and they can be retried", async () => {
    const store1 = await stores.open();
    const outbox1 = stores.outbox(store1, new FakeSender(() => failed("forbidden", 403, true)));
    await outbox1.enqueue([entry("!a:x", "d1"), entry("!a:x", "d2"), entry("!b:x", "d3")]);
    await waitUntil(() => outbox1.stats().dead === 3, "three dead letters");
    await outbox1.drain();
    await store1.close();

    const second = new FakeSender();
    const outbox2 = stores.outbox(await stores.open(), second);
    expect(await outbox2.recover()).toBe(0);
    expect(outbox2.stats()).toEqual({ pending: 0, dead: 3, sent: 0 });
    expect(outbox2.stats("!a:x").dead).toBe(2);
    expect((await outbox2.deadLetters("!a:x")).map((d) => d.txnId).sort()).toEqual(["d1", "d2"]);
    expect(await outbox2.retryDead("!a:x")).toBe(2);
    await waitUntil(() => outbox2.stats().sent === 2, "retried");
    expect(second.txnIds()).toEqual(["d1", "d2"]);
    expect(outbox2.stats()).toEqual({ pending: 0, dead: 1, sent: 2 });
  });

  it("recover() repairs what a crash left half-written between two writes", async () => {
    const store1 = await stores.open();
    const outbox1 = stores.outbox(store1, new FakeSender(() => failed("forbidden", 403, true)));
    await outbox1.send("!a:x", "m.room.message", { body: "x" }, "dead-1");
    await outbox1.drain();
    // Crash inside markDead, after the record became dead: the pending index still names it, no dead index yet.
    await store1.namespace("outbox-pending").set("dead-1", { roomId: "!a:x", seq: 1 });
    await store1.namespace("outbox-dead").delete("dead-1");
    // Crash inside enqueue, after the index entry and before the record: the caller was never answered.
    await store1.namespace("outbox-pending").set("never-recorded", { roomId: "!a:x", seq: 2 });
    // Crash inside retryDead, after the record became pending again: the dead index is stale.
    await store1.namespace("outbox-dead").set("sent-1", { roomId: "!a:x", at: Date.now() });
    await store1.namespace("outbox").set("sent-1", { status: "sent", roomId: "!a:x", eventId: "$e", at: Date.now() });
    await store1.close();

    const second = new FakeSender();
    const store2 = await stores.open();
    const outbox2 = stores.outbox(store2, second);
    expect(await outbox2.recover()).toBe(0);
    expect(outbox2.stats()).toEqual({ pending: 0, dead: 1, sent: 0 });
    expect((await outbox2.deadLetters()).map((d) => d.txnId)).toEqual(["dead-1"]);
    expect(await store2.namespace("outbox-pending").get("dead-1")).toBeUndefined();
    expect(await store2.namespace("outbox-pending").get("never-recorded")).toBeUndefined();
    expect(await store2.namespace("outbox-dead").get("sent-1")).toBeUndefined();
    expect(await store2.namespace("outbox-dead").get("dead-1")).toBeDefined();
    expect(second.calls).toHaveLength(0);
  });

  it("when the homeserver rejects the token, sending stops and pending entries wait for the next start", async () => {
    const store1 = await stores.open();
    const first = new FakeSender(() => failed("unknown_token", 401, true));
    const outbox1 = stores.outbox(store1, first);
    const result = await outbox1.send("!a:x", "m.room.message", { body: "a" }, "t1");
    expect(result).toMatchObject({ ok: false });
    await outbox1.enqueue([entry("!b:x", "t2")]);
    // Halted: both stay pending, and nothing is being sent.
    await expectSteady(() => waitUntil(() => outbox1.pendingCount() === 2 && first.inFlight === 0, "both pending, no send in flight"), () => {
      expect(first.txnIds()).toEqual(["t1"]);
      expect(outbox1.stats()).toMatchObject({ pending: 2, dead: 0 });
    });
    await outbox1.drain();
    await store1.close();

    const second = new FakeSender();
    const outbox2 = stores.outbox(await stores.open(), second);
    expect(await outbox2.recover()).toBe(2);
    await waitUntil(() => outbox2.stats().sent === 2, "sent with the new token");
  });
});
