// The bot's messages of an earlier answer that a new answer takes over, in order: an edited question answered again
// (its previous answer is edited into the new one), or a run cancelled by an edit and run again (what it had posted
// is edited, not posted anew). Whatever the new answer does not need is redacted when it is done (retire()).
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import { REDACTION_TYPE, type RoomMessageSender } from "../matrix/sender";

export class TakeOver {
  private next = 0;

  constructor(private readonly eventIds: readonly string[] = []) {}

  /** The next message to edit instead of posting a new one, if one is left. */
  take(): string | undefined {
    const id = this.eventIds[this.next];
    if (id !== undefined) this.next += 1;
    return id;
  }

  /** The messages not taken (yet). */
  get unused(): string[] {
    return this.eventIds.slice(this.next);
  }
}

/** Why the bot redacts its own messages: the clients of some people show it. */
export const RETIRE_REASONS = {
  redacted: "The question was deleted.",
  shorter: "The answer was replaced by a shorter one.",
} as const;

/**
 * Redacts the bot's messages `eventIds` in a room, through `sender` (the outbox): txnIds from `txnPrefix` and each
 * message's id, so that doing it again after a restart redacts nothing twice. Failures are logged.
 */
export async function retire(sender: Pick<RoomMessageSender, "sendEvent">, log: Logger, roomId: string, eventIds: readonly string[],
  txnPrefix: string, reason: keyof typeof RETIRE_REASONS): Promise<void> {
  for (const eventId of new Set(eventIds)) {
    const result = await sender.sendEvent(roomId, REDACTION_TYPE, { redacts: eventId, reason: RETIRE_REASONS[reason] },
      `${txnPrefix}.x.${createHash("sha256").update(eventId).digest("base64url").slice(0, 16)}`);
    if (!result.ok) log.warn({ roomId, eventId, error: result.error.describe() }, "could not redact one of the bot's messages");
  }
}
