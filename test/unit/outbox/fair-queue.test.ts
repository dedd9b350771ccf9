import { FairQueue } from "../../../src/outbox/fair-queue";
import type { PendingEntry } from "../../../src/outbox/records";

let seq = 0;
function item(roomId: string, txnId: string, kind: "reply" | "proactive" | "notice" = "reply", at?: number): PendingEntry {
  return { entry: { roomId, type: "m.room.message", content: {}, txnId, origin: { kind } }, seq: at ?? ++seq };
}

/** Takes everything, finishing each send at once; returns the txnIds in the order they were taken. */
function takeAll(queue: FairQueue): string[] {
  const out: string[] = [];
  for (let next = queue.take(); next; next = queue.take()) {
    out.push(next.entry.txnId);
    queue.done(next.entry.roomId);
  }
  return out;
}

describe("fair queue", () => {
  it("takes rooms in turn, one entry of a room at a time, each room in seq order", () => {
    const q = new FairQueue(4);
    q.push(item("!a", "a1"));
    q.push(item("!a", "a2"));
    q.push(item("!b", "b1"));
    q.push(item("!a", "a0", "reply", 0)); // recovered: older than everything queued
    const first = q.take();
    const second = q.take();
    expect([first?.entry.txnId, second?.entry.txnId]).toEqual(["a0", "b1"]);
    expect(q.take()).toBeUndefined(); // room a is busy until done
    q.done("!a");
    q.done("!b");
    expect(takeAll(q)).toEqual(["a1", "a2"]);
    expect(q.size).toBe(0);
  });

  it("serves interactive rooms first, but lets fan-out through after a burst", () => {
    const q = new FairQueue(2);
    for (let i = 0; i < 3; i++) q.push(item(`!p${i}`, `p${i}`, "proactive"));
    for (let i = 0; i < 5; i++) q.push(item(`!r${i}`, `r${i}`, "reply"));
    expect(takeAll(q)).toEqual(["r0", "r1", "p0", "r2", "r3", "p1", "r4", "p2"]);
  });

  it("a room's lane follows its next entry", () => {
    const q = new FairQueue(4);
    q.push(item("!x", "x-fan", "proactive"));
    q.push(item("!x", "x-reply", "reply"));
    q.push(item("!y", "y-fan", "proactive"));
    q.push(item("!z", "z-notice", "notice"));
    // x-fan goes before the room's reply (room order); then the reply goes before other rooms' fan-out.
    expect(takeAll(q)).toEqual(["z-notice", "x-fan", "x-reply", "y-fan"]);
  });

  it("removeRoom returns the waiting entries and leaves the one in flight alone", () => {
    const q = new FairQueue(4);
    q.push(item("!a", "a1"));
    q.push(item("!a", "a2"));
    q.push(item("!a", "a3"));
    expect(q.take()?.entry.txnId).toBe("a1");
    expect(q.removeRoom("!a").map((i) => i.entry.txnId)).toEqual(["a2", "a3"]);
    expect(q.size).toBe(0);
    q.push(item("!a", "a4"));
    expect(q.take()).toBeUndefined(); // a1 still in flight
    q.done("!a");
    expect(takeAll(q)).toEqual(["a4"]);
  });
});
