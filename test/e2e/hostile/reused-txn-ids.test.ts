// Issue 18: Synapse 1.67 on SQLite numbers appservice transactions afresh after its restart (from the highest id
// still queued, or 1). A bot that keeps its data directory used to acknowledge the new events under those ids as
// "already done" and never answer them. Now a known id with other events is processed, with the bot running and
// after its own restart (the ids it recorded are on disk), and a true retry is still acknowledged without work.
import type { ClientEvent, TransactionRecord } from "../../support/homeserver/types";
import { Scenario } from "../../support/scenario";
import { scaled } from "../../support/wait";

jest.setTimeout(scaled(60_000));

const APPSERVICE_ID = "matrix-agent-bot"; // writeRegistration's id

describe("appservice transaction ids used again by the homeserver", () => {
  let s: Scenario;
  afterEach(async () => s?.stop());

  /** The 200-answered transaction that carried the event. */
  const carrying = (eventId: string): TransactionRecord | undefined =>
    s.hs.transactions.find((t) => t.status === 200 && t.events.some((e: ClientEvent) => e.event_id === eventId));
  const reusedIds = (): string[] => {
    const byId = new Map<string, Set<string>>();
    for (const t of s.hs.transactions) {
      const ids = byId.get(t.txnId) ?? new Set<string>();
      ids.add(t.events.map((e) => e.event_id).join(","));
      byId.set(t.txnId, ids);
    }
    return [...byId].filter(([, digests]) => digests.size > 1).map(([txnId]) => txnId);
  };
  const waitPushed = (): Promise<true> => s.hs.waitFor(() => s.hs.appserviceIdle(APPSERVICE_ID), { what: "every transaction pushed" });

  it("answers new events pushed under ids it has seen, before and after its own restart", async () => {
    s = await Scenario.start({ mode: "appservice" });
    s.hs.restartAppserviceTxnNumbering(); // a fresh homeserver: ids from 1
    const dm = await s.openDm();
    const first = await s.alice.sendText(dm, "first");
    await s.waitBotMessages(dm, 1);
    await waitPushed();
    const firstTxn = carrying(first);
    expect(firstTxn).toBeDefined();

    s.hs.restartAppserviceTxnNumbering(); // the homeserver restarted: ids from 1 again
    const second = await s.alice.sendText(dm, "second");
    await s.waitBotMessages(dm, 2, "the answer to a message under a reused transaction id");
    expect(reusedIds()).toContain(carrying(second)?.txnId);

    await waitPushed();
    await s.stopBot();
    s.hs.restartAppserviceTxnNumbering();
    await s.startBot(); // its memory is gone: only the recorded ids (with their digests) are left
    const third = await s.alice.sendText(dm, "third");
    await s.waitBotMessages(dm, 3, "the answer after both restarted");
    expect(reusedIds()).toContain(carrying(third)?.txnId);
    expect(s.bot.logs.lines().filter((l) => l.msg?.startsWith("the homeserver reused a transaction id"))).toHaveLength(1);

    // A true retry (same id, same events) is still acknowledged without processing, and answered nothing new.
    const retry = await s.hs.pushTransaction(APPSERVICE_ID, firstTxn?.events ?? [], { txnId: firstTxn?.txnId ?? "" });
    expect(retry.status).toBe(200);
    await s.expectSteady(() => expect(s.botMessages(dm)).toHaveLength(3));
  });
});
