import type { SendResult } from "../../../src/matrix/sender";
import { accepted, entry, expectSteady, FakeSender, outboxIdle, pause, TestStores, waitUntil, type SendCall } from "./support";

/** A promise the test resolves when it wants. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

describe("outbox delivery", () => {
  let stores: TestStores;
  beforeEach(() => (stores = new TestStores()));
  afterEach(() => stores.cleanup());

  it("records each entry and delivers it exactly once", async () => {
    const sender = new FakeSender();
    const outbox = stores.outbox(await stores.open(), sender);
    await outbox.enqueue([entry("!a:x", "t1"), entry("!b:x", "t2"), entry("!a:x", "t3")]);
    await waitUntil(() => outbox.stats().sent === 3, "three sent");
    await outbox.drain();
    expect(sender.txnIds().sort()).toEqual(["t1", "t2", "t3"]);
    expect(sender.calls[0]).toMatchObject({ roomId: "!a:x", type: "m.room.message", content: { body: "secret body of t1" } });
    expect(outbox.stats()).toEqual({ pending: 0, dead: 0, sent: 3 });
    expect(outbox.stats("!a:x")).toEqual({ pending: 0, dead: 0, sent: 2 });
  });

  it("keeps at most `concurrency` sends in flight, and does send in parallel", async () => {
    const sender = new FakeSender(accepted, 3);
    const outbox = stores.outbox(await stores.open(), sender, { concurrency: 4 });
    await outbox.enqueue(Array.from({ length: 40 }, (_, i) => entry(`!room${i}:x`, `t${i}`)));
    await waitUntil(() => outbox.stats().sent === 40, "all sent");
    expect(sender.calls).toHaveLength(40);
    expect(sender.maxInFlight).toBeGreaterThan(1);
    expect(sender.maxInFlight).toBeLessThanOrEqual(4);
  });

  it("sends one txnId once, however often it is enqueued", async () => {
    const sender = new FakeSender(accepted, 2);
    const outbox = stores.outbox(await stores.open(), sender);
    const dup = entry("!a:x", "same");
    await Promise.all([outbox.enqueue([dup, dup]), outbox.enqueue([dup])]);
    await outbox.enqueue([dup]); // while pending or in flight
    await waitUntil(() => outbox.stats().sent === 1, "sent");
    await outbox.enqueue([dup]); // after it was sent
    const again = await outbox.send("!a:x", "m.room.message", { body: "x" }, "same");
    await expectSteady(() => outboxIdle(outbox), () => expect(sender.txnIds()).toEqual(["same"]));
    expect(again).toMatchObject({ ok: true, eventId: "$ev-same" });
    expect(outbox.stats()).toMatchObject({ pending: 0, sent: 1 });
  });

  it("concurrent send() calls with one txnId send once and both get the answer", async () => {
    const sender = new FakeSender(accepted, 2);
    const outbox = stores.outbox(await stores.open(), sender);
    const [a, b] = await Promise.all([
      outbox.send("!a:x", "m.room.message", { body: "x" }, "t1"),
      outbox.send("!a:x", "m.room.message", { body: "x" }, "t1"),
    ]);
    expect(a).toMatchObject({ ok: true, eventId: "$ev-t1" });
    expect(b).toMatchObject({ ok: true, eventId: "$ev-t1" });
    expect(sender.txnIds()).toEqual(["t1"]);
  });

  it("send() resolves with the homeserver's answer, like sendEvent", async () => {
    const sender = new FakeSender();
    const outbox = stores.outbox(await stores.open(), sender);
    const result = await outbox.send("!a:x", "m.room.message", { body: "hi" }, "r1", { kind: "reply", runId: "$run" });
    expect(result).toEqual({ ok: true, eventId: "$ev-r1", attempts: 1 });
    expect(outbox.stats().pending).toBe(0); // the caller hears of it before its sent mark is written; counted sent after
    await waitUntil(() => outbox.stats().sent === 1, "the sent mark written");
    expect(outbox.stats()).toEqual({ pending: 0, dead: 0, sent: 1 });
  });

  it("sends a room's entries one at a time, in enqueue order, while rooms proceed side by side", async () => {
    const perRoomInFlight = new Map<string, number>();
    let overlapped = false;
    const sender = new FakeSender(async (call: SendCall, index: number): Promise<SendResult> => {
      const n = (perRoomInFlight.get(call.roomId) ?? 0) + 1;
      perRoomInFlight.set(call.roomId, n);
      if (n > 1) overlapped = true;
      await pause((index * 7) % 4); // uneven latencies
      perRoomInFlight.set(call.roomId, n - 1);
      return accepted(call);
    });
    const outbox = stores.outbox(await stores.open(), sender, { concurrency: 3 });
    const rooms = ["!a:x", "!b:x", "!c:x"];
    const expected = new Map(rooms.map((r) => [r, [] as string[]]));
    for (let batch = 0; batch < 4; batch++) {
      const entries = Array.from({ length: 9 }, (_, i) => {
        const roomId = rooms[i % 3] ?? "!a:x";
        const txnId = `${roomId}-${batch}-${i}`;
        expected.get(roomId)?.push(txnId);
        const kind = i % 2 === 0 ? "proactive" : "reply";
        return entry(roomId, txnId, { origin: { kind } });
      });
      await outbox.enqueue(entries);
    }
    await waitUntil(() => outbox.stats().sent === 36, "all sent");
    expect(overlapped).toBe(false);
    for (const roomId of rooms) {
      expect(sender.calls.filter((c) => c.roomId === roomId).map((c) => c.txnId)).toEqual(expected.get(roomId));
    }
  });

  it("pendingCount counts what is queued, being sent or being recorded, and reads 0 once all is delivered", async () => {
    const hold = gate();
    const sender = new FakeSender(async (call) => {
      await hold.wait;
      return accepted(call);
    });
    const outbox = stores.outbox(await stores.open(), sender, { concurrency: 1 });
    expect(outbox.pendingCount()).toBe(0);
    await outbox.enqueue([entry("!a:x", "t1"), entry("!b:x", "t2")]);
    expect(outbox.pendingCount()).toBe(2); // one being sent, one queued
    hold.open();
    await waitUntil(() => outbox.stats().sent === 2, "both sent");
    expect(outbox.pendingCount()).toBe(0);
  });

  it("a reply does not wait behind a 1,000-room fan-out", async () => {
    const fanOut = gate();
    const sender = new FakeSender(async (call) => {
      if (call.txnId.startsWith("fan")) await fanOut.wait;
      return accepted(call);
    });
    // 2,000 commits: no fsync each (see TestStores.open); the order of the sends is what this test is about.
    const outbox = stores.outbox(await stores.open(undefined, { synchronous: "normal" }), sender, { concurrency: 2 });
    await outbox.enqueue(Array.from({ length: 1000 }, (_, i) =>
      entry(`!fan${i}:x`, `fan-${i}`, { origin: { kind: "proactive", runId: "run-1" } })));
    await waitUntil(() => sender.calls.length === 2, "fan-out started"); // both slots busy
    const reply = outbox.send("!dm:x", "m.room.message", { body: "answer" }, "reply-1", { kind: "reply" });
    await waitUntil(() => outbox.stats("!dm:x").pending === 1, "reply queued");
    fanOut.open();
    expect(await reply).toMatchObject({ ok: true });
    // The reply took the first slot that came free: two fan-out sends before it, not a thousand.
    expect(sender.txnIds().indexOf("reply-1")).toBe(2);
    await waitUntil(() => outbox.stats().sent === 1001, "fan-out finished", 25_000); // within the test's 30 s
  });

  it("fan-out holds at most its share of the sends in flight: a reply goes out while fan-out sends hang", async () => {
    const fanOut = gate();
    const sender = new FakeSender(async (call) => {
      if (call.txnId.startsWith("fan")) await fanOut.wait;
      return accepted(call);
    });
    const outbox = stores.outbox(await stores.open(), sender, { concurrency: 4, proactiveConcurrency: 3 });
    await outbox.enqueue(Array.from({ length: 50 }, (_, i) =>
      entry(`!fan${i}:x`, `fan-${i}`, { origin: { kind: "proactive", runId: "run-1" } })));
    // The fourth slot is kept for replies: no fourth fan-out send, however long one waits.
    await expectSteady(() => waitUntil(() => sender.calls.length >= 3, "fan-out started"), () => expect(sender.calls).toHaveLength(3));
    const reply = await outbox.send("!dm:x", "m.room.message", { body: "answer" }, "reply-1", { kind: "reply" });
    expect(reply).toMatchObject({ ok: true }); // sent while all three fan-out sends still hang
    expect(sender.maxInFlight).toBe(4);
    fanOut.open();
    await waitUntil(() => outbox.stats().sent === 51, "fan-out finished");
    expect(sender.maxInFlight).toBeLessThanOrEqual(4);
  });

  it("a room whose sends hang holds back no other room", async () => {
    const stuck = gate();
    const sender = new FakeSender(async (call) => {
      if (call.roomId === "!slow:x") await stuck.wait;
      return accepted(call);
    });
    const outbox = stores.outbox(await stores.open(), sender, { concurrency: 2 });
    await outbox.enqueue([entry("!slow:x", "s1"), entry("!slow:x", "s2"), ...Array.from({ length: 20 }, (_, i) => entry(`!r${i}:x`, `o${i}`))]);
    await waitUntil(() => outbox.stats().sent === 20, "other rooms delivered");
    expect(outbox.stats("!slow:x").pending).toBe(2);
    expect(sender.txnIds()).not.toContain("s2");
    stuck.open();
    await waitUntil(() => outbox.stats().sent === 22, "slow room delivered");
  });

  it("refuses new work after drain, and drain waits for the sends in flight", async () => {
    const release = gate();
    const sender = new FakeSender(async (call) => {
      await release.wait;
      return accepted(call);
    });
    const outbox = stores.outbox(await stores.open(), sender, { concurrency: 1 });
    await outbox.enqueue([entry("!a:x", "t1")]);
    const queued = outbox.send("!b:x", "m.room.message", { body: "later" }, "t2");
    await waitUntil(() => sender.calls.length === 1 && outbox.stats().pending === 2, "one in flight, one queued");
    let drained = false;
    const draining = outbox.drain().then(() => (drained = true));
    expect(await queued).toMatchObject({ ok: false, permanent: false }); // stays pending for the next start
    await expectSteady(() => waitUntil(() => sender.inFlight === 1, "t1 in flight"), () => expect(drained).toBe(false));
    release.open();
    await draining;
    expect(sender.txnIds()).toEqual(["t1"]);
    await expect(outbox.enqueue([entry("!a:x", "t3")])).rejects.toThrow(/stopped/);
    expect(await outbox.send("!a:x", "m.room.message", { body: "x" }, "t4")).toMatchObject({ ok: false, permanent: false });
  });

  it("rejects malformed entries before recording anything", async () => {
    const sender = new FakeSender();
    const outbox = stores.outbox(await stores.open(), sender);
    await expect(outbox.enqueue([{ ...entry("!a:x", ""), txnId: "" }])).rejects.toThrow();
    expect(await outbox.send("", "m.room.message", {}, "t")).toMatchObject({ ok: false, permanent: true });
    expect(outbox.stats().pending).toBe(0);
  });
});
