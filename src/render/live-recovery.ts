// After a restart no message stays live. For every live message the store remembers (live-store.ts): when its
// final edit was already handed to the outbox, the outbox delivers it and the record goes; otherwise it gets an
// edit that keeps its last text and says "(interrupted)", not marked live. Its record stays a day (marked
// interrupted), so that the turn, run again from the journal, continues the same message and its edit count.
import type { Logger } from "pino";
import type { SendResult } from "../matrix/sender";
import type { ReplyTarget } from "../turns/reply-content";
import { interruptedText, liveEdit, segmentContent, type Content } from "./live-content";
import type { LiveRecord, LiveStore } from "./live-store";

/** How long an interrupted record waits for its turn to run again. */
export const INTERRUPTED_RECORD_TTL_MS = 24 * 3600 * 1000;

export interface LiveRecoveryDeps {
  store: LiveStore;
  /** Sends an m.room.message content into a room through the outbox. */
  send(roomId: string, content: Content, txnId: string): Promise<SendResult>;
  /** Whether the outbox has (or had) an entry with this txnId: pending, sent or dead. */
  isRecorded(txnId: string): Promise<boolean>;
  log: Logger;
  now?: () => number;
}

/** Ends every live message left by the last process. Resolves when done; failures are logged per message. */
export async function recoverLiveMessages(deps: LiveRecoveryDeps): Promise<number> {
  const now = deps.now ?? Date.now;
  let records: LiveRecord[];
  try {
    records = await deps.store.list();
  } catch (err) {
    deps.log.error({ err: String(err) }, "live messages could not be listed; they may stay live");
    return 0;
  }
  let ended = 0;
  for (const record of records) {
    await deps.store.recoverOne(record.key, async () => {
      if (record.interruptedAt !== undefined) {
        if (now() - record.interruptedAt > INTERRUPTED_RECORD_TTL_MS) await deps.store.remove(record.key);
        return;
      }
      if (await deps.isRecorded(`${record.key}.final`)) {
        await deps.store.remove(record.key); // the outbox delivers its final edit
        return;
      }
      if (await endInterrupted(deps, record, now())) ended += 1;
    }).catch((err: unknown) => deps.log.error({ key: record.key, err: String(err) }, "a live message could not be ended"));
  }
  if (records.length > 0) deps.log.info({ records: records.length, interrupted: ended }, "live messages from before the restart ended");
  return ended;
}

async function endInterrupted(deps: LiveRecoveryDeps, record: LiveRecord, at: number): Promise<boolean> {
  const { roomId, key } = record;
  // The first event may still be pending in the outbox: the same txnId waits for it (or learns its event id).
  const eventId = record.eventId ?? await firstEventId(deps, record);
  if (eventId === undefined) {
    await deps.store.remove(key);
    return false;
  }
  // Relations and mentions stay those of the first event: an edit's new content never carries the relation.
  const target: ReplyTarget = { roomId, eventId: "", sender: "", isDirect: true };
  const { content } = segmentContent(interruptedText(record.text), target, false, record.msgtype, record.work);
  if (content === undefined) {
    await deps.store.remove(key);
    return false;
  }
  const mentions = record.initial["m.mentions"];
  const result = await deps.send(roomId, liveEdit(eventId, mentions === undefined ? content : { ...content, "m.mentions": mentions }, false),
    `${key}.interrupted`);
  if (!result.ok) {
    deps.log.error({ roomId, key, error: result.error.describe() }, "a live message could not be marked interrupted");
    return false;
  }
  await deps.store.put({ ...record, eventId, edits: record.edits + 1, interruptedAt: at, updatedAt: at });
  deps.log.info({ roomId, key }, "a live message from before the restart was marked interrupted");
  return true;
}

async function firstEventId(deps: LiveRecoveryDeps, record: LiveRecord): Promise<string | undefined> {
  if (!(await deps.isRecorded(record.key))) return undefined; // never handed to the outbox: nothing was shown
  const result = await deps.send(record.roomId, record.initial, record.key);
  return result.ok ? result.eventId : undefined;
}
