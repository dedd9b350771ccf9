// A run may begin before its record's commit (RunBatches.record, on a store that applies writes in issue order).
// What it sends through the outbox (`sendsRecorded`: the sender records each message in the store before it sends
// it) waits here only until the record is asked of the store: the message's record comes after it in issue order, so
// it commits with it or after it, and its PUT follows that commit. What it sends with no write before it (a read
// receipt; any send when the sender does not record) waits for the record's commit. Which turns a run answers is thus
// durable before the run sends anything. Typing notifications are not messages: they go at once.
//
// A deferred record (the plain first run of a fresh message, `mayDeferRecord`) is written only when the run first
// sends, by the gate, in the same tick as that send's outbox record: one commit for both, none of its own before the
// agent is asked (at one active room that commit was on the turn's path: the agent's answer waited for it). A live
// message, which writes its own record before it sends, writes the run's first (TurnRun `beforeLiveRecord`).
import type { RoomMessageSender } from "../matrix/sender";
import type { RecordWrite } from "./run-batches";
import { isPlainFreshRun, type TurnMessage, type TurnRunOptions } from "./turn-run";

export function sendsAfter(sender: RoomMessageSender, recording: () => RecordWrite | undefined, sendsRecorded: boolean): RoomMessageSender {
  const asked = async (): Promise<void> => recording()?.issue();
  const durable = async (): Promise<void> => {
    const write = recording();
    if (!write) return;
    await write.issue();
    await write.durable;
  };
  return {
    sendEvent: async (...args) => {
      await (sendsRecorded ? asked() : durable());
      return sender.sendEvent(...args);
    },
    setTyping: (...args) => sender.setTyping(...args),
    sendReadReceipt: async (...args) => {
      await durable();
      return sender.sendReadReceipt(...args);
    },
  };
}

/**
 * Whether a run's record may wait for its first send (RunBatches.record `deferred`): its sends are recorded in a store
 * that applies writes in issue order, and it is the plain first run of one fresh message (run id = the message's event
 * id: run again after a crash that came before it sent anything, it is the same run, with the same txnIds, and nothing
 * was sent under them).
 */
export function mayDeferRecord(sendsRecorded: boolean, batch: TurnMessage[], opts: TurnRunOptions): boolean {
  const [only] = batch;
  return sendsRecorded && batch.length === 1 && only !== undefined && isPlainFreshRun(only, opts);
}
