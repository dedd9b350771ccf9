// Exhausted or permanent delivery failures are never silent: besides the error log and /status, they are
// announced in ADMIN_ROOM (when set). The announcement goes through the outbox too, with a txnId derived from
// the dead letter's, so it is posted once; failures of the admin room itself are not announced (no loop).
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import type { DeadLetter, OutboxEntryInput } from "./index";

export function deadLetterNotice(entry: DeadLetter): string {
  const what = entry.origin?.kind === "proactive" ? "A proactive message" : "A message";
  const how = entry.permanent ? "the homeserver refused it" : `it still failed after ${entry.attempts} attempts`;
  return `⚠️ ${what} to ${entry.roomId} could not be delivered: ${how} (${entry.reason}). ` +
    "It is kept as a dead letter: `/outbox retry all` here re-queues it.";
}

export class DeadLetterAnnouncer {
  private adminRoomId: string | undefined;

  constructor(private readonly enqueue: (entries: OutboxEntryInput[]) => Promise<void>, private readonly log: Logger) {}

  /** Sets the admin room (a room id; aliases are resolved by the caller). */
  setAdminRoom(roomId: string | undefined): void {
    this.adminRoomId = roomId;
  }

  async announce(entry: DeadLetter): Promise<void> {
    const adminRoom = this.adminRoomId;
    if (adminRoom === undefined || entry.roomId === adminRoom) return;
    const txnId = `mab.dl.${createHash("sha256").update(entry.txnId).digest("base64url").slice(0, 32)}`;
    try {
      await this.enqueue([{
        roomId: adminRoom, type: "m.room.message", txnId, origin: { kind: "notice" },
        content: { msgtype: "m.notice", body: deadLetterNotice(entry), "m.mentions": { user_ids: [] } },
      }]);
    } catch (e) {
      this.log.error({ err: String(e), roomId: entry.roomId }, "could not announce a dead letter in ADMIN_ROOM");
    }
  }
}
