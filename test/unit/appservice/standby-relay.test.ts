// Issue 30, appservice mode with a standby: a listener holding (the standby) checks the hs_token, stores each new
// transaction for the active and answers 200 without processing it; once active, what was held goes through the
// active's path first (in order, before each transaction of its own), deduplicated by transaction id and event id.
import pino from "pino";
import { HeldTransactions, type HeldTransaction, type InboxStore } from "../../../src/inbox";
import { AppserviceFixture, expectNoSecretIn, HS_TOKEN, message } from "./support";
import { waitFor } from "../../support/wait";

/** The inbox in memory (the real ones are tested against PostgreSQL and Redis in test/unit/inbox). */
class MemoryInbox implements InboxStore {
  readonly rows: HeldTransaction[] = [];
  private next = 1;
  failing = false;
  async add(txnId: string, body: string): Promise<void> {
    if (this.failing) throw new Error("inbox down");
    this.rows.push({ id: String(this.next++), txnId, body });
  }
  async list(limit: number): Promise<HeldTransaction[]> {
    if (this.failing) throw new Error("inbox down");
    return this.rows.slice(0, limit);
  }
  async remove(ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      const at = this.rows.findIndex((r) => r.id === id);
      if (at >= 0) this.rows.splice(at, 1);
    }
  }
  async close(): Promise<void> {}
}

const eventIds = (as: AppserviceFixture): string[] => as.items.map((i) => (i.kind === "event" ? i.event.event_id : "invite"));

describe("appservice server with a standby's relay", () => {
  let as: AppserviceFixture;
  let inbox: MemoryInbox;
  let held: HeldTransactions;

  beforeEach(async () => {
    inbox = new MemoryInbox();
    held = new HeldTransactions({ store: inbox, log: pino({ level: "silent" }), pollMs: 60_000 });
    as = await new AppserviceFixture({ relay: held }).start();
  });
  afterEach(async () => {
    expectNoSecretIn(as.logLines, HS_TOKEN);
    await held.stop();
    await as.close();
  });
  const activate = (): Promise<void> => held.activate((transactions) => as.server.replayHeld(transactions));

  it("holding, it stores a transaction and answers 200 without processing it; a wrong hs_token stores nothing", async () => {
    expect(await as.put("t1", { events: [message("$1:example.org", "one")] })).toEqual({ status: 200, body: {} });
    expect((await as.put("t2", { events: [message("$2:example.org", "two")] }, { token: "wrong" })).status).toBe(403);
    expect((await as.put("t3", "not json")).status).toBe(400);
    expect(as.batches).toEqual([]);
    expect(inbox.rows.map((r) => r.txnId)).toEqual(["t1"]);
    expect(JSON.parse(inbox.rows[0]?.body ?? "")).toEqual({ events: [message("$1:example.org", "one")] });
  });

  it("holding, it refuses (500) a transaction it cannot store, so the homeserver sends it again", async () => {
    inbox.failing = true;
    expect((await as.put("t1", { events: [message("$1:example.org", "one")] })).status).toBe(500);
    inbox.failing = false;
    expect((await as.put("t1", { events: [message("$1:example.org", "one")] })).status).toBe(200);
    expect(inbox.rows.map((r) => r.txnId)).toEqual(["t1"]);
  });

  it("once active, what was held is processed first, in order, and a transaction held and also sent to the active is processed once", async () => {
    await as.put("t1", { events: [message("$1:example.org", "one")] });
    await as.put("t2", { events: [message("$2:example.org", "two")] });
    await activate();
    expect(eventIds(as)).toEqual(["$1:example.org", "$2:example.org"]);
    expect(as.batches).toHaveLength(1); // what was held goes to the journal in one batch
    expect(inbox.rows).toEqual([]);
    // The homeserver sends t2 again, to the active (its 200 from the standby was lost): acknowledged, not processed again.
    expect((await as.put("t2", { events: [message("$2:example.org", "two")] })).status).toBe(200);
    expect(eventIds(as)).toEqual(["$1:example.org", "$2:example.org"]);
  });

  it("active, a transaction a standby held meanwhile goes before the active's next own one", async () => {
    await activate();
    await inbox.add("t1", JSON.stringify({ events: [message("$1:example.org", "held by the standby")] }));
    expect((await as.put("t2", { events: [message("$2:example.org", "own")] })).status).toBe(200);
    expect(eventIds(as)).toEqual(["$1:example.org", "$2:example.org"]);
    // The same transaction id held again later (a standby's copy of one the active processed): dropped as seen.
    await inbox.add("t2", JSON.stringify({ events: [message("$2:example.org", "own")] }));
    expect((await as.put("t3", { events: [message("$3:example.org", "next")] })).status).toBe(200);
    expect(eventIds(as)).toEqual(["$1:example.org", "$2:example.org", "$3:example.org"]);
    expect(inbox.rows).toEqual([]);
  });

  it("a transaction this listener was still storing when it became active (after its first take) goes before its next own one", async () => {
    let storing!: () => void;
    const underWay = new Promise<void>((resolve) => (storing = resolve));
    let land!: () => void;
    const slowWrite = new Promise<void>((resolve) => (land = resolve));
    const add = inbox.add.bind(inbox);
    inbox.add = async (txnId, body) => {
      storing();
      await slowWrite; // the store write is slow: the process takes over meanwhile
      await add(txnId, body);
    };
    const answer = as.put("t1", { events: [message("$1:example.org", "held while taking over")] });
    await underWay;
    await activate(); // its first take finds nothing yet
    land();
    expect((await answer).status).toBe(200);
    expect(inbox.rows.map((r) => r.txnId)).toEqual(["t1"]);
    expect((await as.put("t2", { events: [message("$2:example.org", "own")] })).status).toBe(200);
    expect(eventIds(as)).toEqual(["$1:example.org", "$2:example.org"]);
    expect(inbox.rows).toEqual([]);
  });

  it("active, when what a standby held cannot be read, its own transaction is refused (order kept) and goes through on the retry", async () => {
    await activate();
    await inbox.add("t1", JSON.stringify({ events: [message("$1:example.org", "held")] }));
    inbox.failing = true;
    expect((await as.put("t2", { events: [message("$2:example.org", "own")] })).status).toBe(500);
    expect(as.batches).toEqual([]);
    inbox.failing = false;
    expect((await as.put("t2", { events: [message("$2:example.org", "own")] })).status).toBe(200);
    expect(eventIds(as)).toEqual(["$1:example.org", "$2:example.org"]);
  });

  it("active, a held transaction whose events cannot be made durable stays held and is processed on the next try", async () => {
    await as.put("t1", { events: [message("$1:example.org", "held")] });
    let fail = true;
    as.behaviour = async () => {
      if (fail) throw new Error("store down");
    };
    await activate(); // logged; tried again before the next own transaction (and on the timer)
    expect(inbox.rows.map((r) => r.txnId)).toEqual(["t1"]);
    fail = false;
    expect((await as.put("t2", { events: [message("$2:example.org", "own")] })).status).toBe(200);
    expect(eventIds(as)).toEqual(["$1:example.org", "$1:example.org", "$2:example.org"]); // the failed attempt, then its retry
    expect(inbox.rows).toEqual([]);
  });
});

describe("a standby's relay, active, with no transaction of its own coming", () => {
  it("takes what a standby held on its timer", async () => {
    const inbox = new MemoryInbox();
    const held = new HeldTransactions({ store: inbox, log: pino({ level: "silent" }), pollMs: 20 });
    const as = await new AppserviceFixture({ relay: held }).start();
    try {
      await held.activate((transactions) => as.server.replayHeld(transactions));
      await inbox.add("t1", JSON.stringify({ events: [message("$1:example.org", "held")] }));
      await inbox.add("t2", "{not json");
      await waitFor(() => inbox.rows.length === 0 && as.items.length === 1, { what: "the held transaction taken on the timer" });
      expect(eventIds(as)).toEqual(["$1:example.org"]); // the unreadable one dropped (logged), not retried forever
      expect(held.counts()).toEqual({ held: 0, replayed: 1 });
    } finally {
      await held.stop();
      await as.close();
    }
  });
});
