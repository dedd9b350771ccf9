// A run may begin before its record's commit (RunBatches.record, on a store that applies writes in issue order):
// what it sends through the outbox is recorded first, in order after its record; what it sends directly (a
// placeholder, a notice, a read receipt) waits here for the record. Which turns a run answers is thus durable before
// the run sends anything. Typing notifications are not messages: they go at once.
import type { RoomMessageSender } from "../matrix/sender";

export function sendsAfter(sender: RoomMessageSender, recorded: () => Promise<void>): RoomMessageSender {
  return {
    sendEvent: async (...args) => {
      await recorded();
      return sender.sendEvent(...args);
    },
    setTyping: (...args) => sender.setTyping(...args),
    sendReadReceipt: async (...args) => {
      await recorded();
      return sender.sendReadReceipt(...args);
    },
  };
}
