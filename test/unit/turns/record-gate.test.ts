// The run's sends and its record (src/turns/record-gate.ts): a send the outbox records first waits only until the run's
// record is asked of the store (issued then, when it was deferred); a read receipt, or any send of a sender that writes
// nothing first, waits for the record's commit; typing waits for nothing.
import type { RoomMessageSender, SendResult } from "../../../src/matrix/sender";
import { mayDeferRecord, sendsAfter } from "../../../src/turns/record-gate";
import type { RecordWrite } from "../../../src/turns/run-batches";
import type { TurnMessage } from "../../../src/turns/turn-run";

/** A record deferred until issued; its commit comes when the test says. */
function deferredRecord(): RecordWrite & { issued: number; commit(): void } {
  let commit!: () => void;
  const committed = new Promise<void>((resolve) => (commit = resolve));
  const write = { issued: 0, begin: Promise.resolve(), durable: committed, commit: () => commit(),
    issue: async () => void (write.issued += 1) };
  return write;
}

function recordingSender(log: string[]): RoomMessageSender {
  return {
    sendEvent: async (_roomId, _type, _content, txnId): Promise<SendResult> => {
      log.push(`send ${txnId}`);
      return { ok: true, eventId: "$sent", attempts: 1 };
    },
    setTyping: async () => void log.push("typing"),
    sendReadReceipt: async () => void log.push("receipt"),
  };
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe("the record gate", () => {
  it("a send the outbox records first goes once the deferred record is issued, before its commit", async () => {
    const log: string[] = [];
    const record = deferredRecord();
    const gated = sendsAfter(recordingSender(log), () => record, true);
    const sent = gated.sendEvent("!r:x", "m.room.message", { body: "a" }, "t1");
    await settle();
    expect(record.issued).toBe(1);
    expect(log).toEqual(["send t1"]); // its own outbox record follows the run's in issue order
    await sent;
  });

  it("a read receipt, and any send of a sender that records nothing, wait for the record's commit", async () => {
    const log: string[] = [];
    const record = deferredRecord();
    const receiptGate = sendsAfter(recordingSender(log), () => record, true);
    const plainGate = sendsAfter(recordingSender(log), () => record, false);
    const receipt = receiptGate.sendReadReceipt("!r:x", "$q");
    const sent = plainGate.sendEvent("!r:x", "m.room.message", { body: "a" }, "t1");
    const typing = receiptGate.setTyping("!r:x", true, 1000);
    await settle();
    expect(record.issued).toBeGreaterThanOrEqual(1);
    expect(log).toEqual(["typing"]);
    record.commit();
    await Promise.all([receipt, sent, typing]);
    expect(log.sort()).toEqual(["receipt", "send t1", "typing"]);
  });

  it("defers only the plain first run of one fresh message, and only where sends are recorded in issue order", () => {
    const fresh: TurnMessage = { roomId: "!r:x", eventId: "$a", sender: "@a:x", isDirect: true, threadKey: "k", text: "hi", fresh: true };
    const { fresh: _f, ...redelivered } = fresh;
    expect(mayDeferRecord(true, [fresh], {})).toBe(true);
    expect(mayDeferRecord(false, [fresh], {})).toBe(false); // PostgreSQL, Redis: the record before the run begins
    expect(mayDeferRecord(true, [redelivered], {})).toBe(false); // read from the journal again (a restart)
    expect(mayDeferRecord(true, [fresh, { ...fresh, eventId: "$b" }], {})).toBe(false); // a batch
    expect(mayDeferRecord(true, [fresh], { recovered: true, runId: "$a" })).toBe(false);
    expect(mayDeferRecord(true, [fresh], { runId: "$a" })).toBe(false); // run again after a change
    expect(mayDeferRecord(true, [{ ...fresh, editId: "$e" }], {})).toBe(false);
    expect(mayDeferRecord(true, [{ ...fresh, previousAnswer: ["$old"] }], {})).toBe(false);
    expect(mayDeferRecord(true, [fresh], { takeOver: ["$old"] })).toBe(false);
  });
});
