import type { SendResult } from "../../../src/matrix/sender";
import type { DeadLetter } from "../../../src/outbox";
import { accepted, entry, expectSteady, failed, FakeSender, outboxIdle, TestStores, waitUntil } from "./support";

const ERROR = 50;
const DAY = 24 * 3600 * 1000;

describe("outbox dead letters", () => {
  let stores: TestStores;
  beforeEach(() => (stores = new TestStores()));
  afterEach(() => stores.cleanup());

  it("a permanent failure becomes a dead letter: logged without content, announced, counted, listed", async () => {
    const announced: DeadLetter[] = [];
    const sender = new FakeSender((call) => (call.roomId === "!gone:x" ? failed("forbidden", 403, true) : accepted(call)));
    const outbox = stores.outbox(await stores.open(), sender, { onDeadLetter: (d) => void announced.push(d) });
    const result = await outbox.send("!gone:x", "m.room.message", { body: "secret body" }, "t-gone", { kind: "reply", runId: "$r" });
    await outbox.enqueue([entry("!ok:x", "t-ok")]);
    await waitUntil(() => outbox.stats().sent === 1, "the other room still served");

    expect(result).toMatchObject({ ok: false, permanent: true });
    expect(announced).toHaveLength(1);
    expect(announced[0]).toMatchObject({ roomId: "!gone:x", txnId: "t-gone", permanent: true, attempts: 1, origin: { kind: "reply" } });
    expect(announced[0]?.reason).toMatch(/forbidden 403 M_FORBIDDEN/);
    expect(outbox.stats()).toEqual({ pending: 0, dead: 1, sent: 1 });
    expect(outbox.stats("!gone:x")).toEqual({ pending: 0, dead: 1, sent: 0 });
    expect(outbox.stats("!ok:x").dead).toBe(0);

    const line = stores.logs.find((l) => l.level === ERROR && l["txnId"] === "t-gone");
    expect(line).toMatchObject({ roomId: "!gone:x", txnId: "t-gone", reason: expect.stringMatching(/forbidden/) });
    expect(stores.logs.raw.join("\n")).not.toContain("secret body");

    const letters = await outbox.deadLetters("!gone:x");
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ txnId: "t-gone", content: { body: "secret body" }, permanent: true });
    expect(await outbox.deadLetters("!ok:x")).toEqual([]);
  });

  it("an intermediate edit of a live answer that cannot be delivered is dropped, never a dead letter", async () => {
    const announced: DeadLetter[] = [];
    const sender = new FakeSender((call) => (call.txnId === "t-live" ? failed("forbidden", 403, true) : accepted(call)));
    const outbox = stores.outbox(await stores.open(), sender, { onDeadLetter: (d) => void announced.push(d) });
    const result = await outbox.send("!a:x", "m.room.message", { body: "* stale" }, "t-live", { kind: "live" });
    expect(result).toMatchObject({ ok: false, permanent: true });
    expect(announced).toEqual([]);
    expect(outbox.stats()).toMatchObject({ pending: 0, dead: 0 });
    expect(await outbox.deadLetters()).toEqual([]);
    expect(await outbox.retryDead()).toBe(0); // nothing stale to send again after the final edit
    expect(await outbox.isRecorded("t-live")).toBe(true);
    expect(await outbox.send("!a:x", "m.room.message", { body: "* stale" }, "t-live", { kind: "live" })).toMatchObject({ ok: true });
    expect(sender.txnIds()).toEqual(["t-live"]); // the same txnId again: not sent twice
  });

  it("exhausted retries become a non-permanent dead letter", async () => {
    const sender = new FakeSender(() => failed("server", 502, false, 5));
    const outbox = stores.outbox(await stores.open(), sender);
    expect(await outbox.send("!a:x", "m.room.message", { body: "x" }, "t1")).toMatchObject({ ok: false, permanent: false, attempts: 5 });
    expect(await outbox.deadLetters()).toMatchObject([{ txnId: "t1", permanent: false, attempts: 5 }]);
  });

  it("a sender that throws is a failure, not a crash", async () => {
    const sender = new FakeSender(() => Promise.reject(new Error("socket hang up")));
    const outbox = stores.outbox(await stores.open(), sender);
    expect(await outbox.send("!a:x", "m.room.message", { body: "x" }, "t1")).toMatchObject({ ok: false });
    expect(outbox.stats().dead).toBe(1);
  });

  it("retryDead re-queues the dead letters and delivers them with their txnIds", async () => {
    let healthy = false;
    const sender = new FakeSender((call) => (healthy ? accepted(call) : failed("not_found", 404, true)));
    const outbox = stores.outbox(await stores.open(), sender);
    await outbox.enqueue([entry("!a:x", "t1"), entry("!a:x", "t2"), entry("!b:x", "t3")]);
    await waitUntil(() => outbox.stats().dead === 3, "all dead");

    healthy = true;
    expect(await outbox.retryDead("!a:x")).toBe(2);
    await waitUntil(() => outbox.stats().sent === 2, "room a retried");
    expect(outbox.stats()).toEqual({ pending: 0, dead: 1, sent: 2 });
    expect(await outbox.retryDead()).toBe(1);
    await waitUntil(() => outbox.stats().sent === 3, "all retried");
    expect(sender.txnIds()).toEqual(["t1", "t3", "t2", /* retried: */ "t1", "t2", "t3"]);
    expect(await outbox.deadLetters()).toEqual([]);
    expect(await outbox.retryDead()).toBe(0);
  });

  it("failRoom turns a room's waiting entries into dead letters; the send in flight finishes; other rooms go on", async () => {
    let release!: () => void;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    const sender = new FakeSender(async (call): Promise<SendResult> => {
      if (call.txnId === "r1") await stuck;
      return accepted(call);
    });
    const announced: string[] = [];
    const outbox = stores.outbox(await stores.open(), sender, { onDeadLetter: (d) => void announced.push(d.txnId) });
    await outbox.enqueue([entry("!kicked:x", "r1"), entry("!kicked:x", "r2"), entry("!kicked:x", "r3")]);
    await waitUntil(() => sender.calls.length === 1, "r1 in flight");

    expect(await outbox.failRoom("!kicked:x", "the bot was kicked")).toBe(2);
    expect(announced).toEqual(["r2", "r3"]);
    expect(outbox.stats("!kicked:x")).toMatchObject({ pending: 1, dead: 2 });
    const letters = await outbox.deadLetters("!kicked:x");
    expect(letters.map((d) => [d.txnId, d.permanent])).toEqual([["r2", true], ["r3", true]]);
    expect(letters[0]?.reason).toMatch(/kicked/);

    await outbox.enqueue([entry("!other:x", "o1")]);
    await waitUntil(() => sender.txnIds().includes("o1"), "other room served");
    release();
    await waitUntil(() => outbox.stats("!kicked:x").pending === 0, "r1 finished");
    await expectSteady(() => outboxIdle(outbox), () => expect(sender.txnIds().sort()).toEqual(["o1", "r1"]));
    expect(await outbox.failRoom("!nothing:x", "left")).toBe(0);
  });

  it("a failing dead-letter hook is logged and changes nothing else", async () => {
    const sender = new FakeSender(() => failed("forbidden", 403, true));
    const outbox = stores.outbox(await stores.open(), sender, { onDeadLetter: () => Promise.reject(new Error("admin room gone")) });
    await outbox.send("!a:x", "m.room.message", { body: "x" }, "t1");
    await waitUntil(() => stores.logs.find((l) => /hook failed/.test(l.msg ?? "")) !== undefined, "hook failure logged");
    expect(outbox.stats().dead).toBe(1);
  });

  it("dead letters stop counting after their TTL", async () => {
    let now = 1_700_000_000_000;
    const sender = new FakeSender(() => failed("forbidden", 403, true));
    const outbox = stores.outbox(await stores.open(), sender, { now: () => now, deadLetterTtlMs: 30 * DAY });
    await outbox.send("!a:x", "m.room.message", { body: "x" }, "t1");
    now += 29 * DAY;
    expect(outbox.stats().dead).toBe(1);
    now += 2 * DAY;
    expect(outbox.stats().dead).toBe(0);
    expect(await outbox.deadLetters()).toEqual([]);
  });
});
