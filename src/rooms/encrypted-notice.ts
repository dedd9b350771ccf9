// Without E2EE the bot cannot read encrypted messages; with it, a message whose room key did not come. It says so once
// per room (never once per message) and stays. The txnId derives from the room, so even a race or a restart cannot
// post the notice twice. The notice's event id is kept: when the messages it was about could be read after all (a
// late room key), the notice is withdrawn by an edit (m.replace) saying so; a later unreadable message then gets a
// new notice (the next generation, its own txnId).
import type Keyv from "keyv";
import type { Logger } from "pino";
import type { RoomMessageSender } from "../matrix/sender";
import { txnIdFor } from "../turns/turn-run";
import { LruMap } from "../util/lru";

/** Rooms remembered as told (the store says so too: a room forgotten here costs one store read, never a repeat). */
const TOLD_ROOMS_KEPT = 10_000;

export const ENCRYPTED_ROOM_NOTICE =
  "🔒 I can't read encrypted messages: end-to-end encryption is not enabled for this bot. " +
  "Talk to me in an unencrypted room, or ask the bot's operator to enable encryption (MATRIX_E2EE).";

/** What the notice says once withdrawn: the message's key came late, and it was read. */
export const NOTICE_WITHDRAWN = "🔓 The key of the message I couldn't decrypt arrived later: I could read it after all.";

/** Per room: when the notice was posted, its event id, its generation, and whether it was withdrawn. A number: a
 *  notice recorded before event ids were kept (it cannot be edited). */
export type NoticeRecord = number | { at: number; eventId: string; generation: number; withdrawn?: boolean };

export class EncryptedRoomNotice {
  private readonly told = new LruMap<string, true>(TOLD_ROOMS_KEPT);

  /** `text`: the notice posted (default: encryption not enabled; with MATRIX_E2EE, crypto's UNDECRYPTABLE_NOTICE). */
  constructor(private readonly store: Keyv<NoticeRecord>, private readonly sender: RoomMessageSender, private readonly log: Logger,
    private readonly text: string = ENCRYPTED_ROOM_NOTICE) {}

  /** Called for each encrypted event the bot cannot read. Posts the notice the first time per room (or after a withdrawal). */
  async onUnreadable(roomId: string): Promise<void> {
    if (this.told.has(roomId)) return;
    this.told.set(roomId, true);
    const record = await this.store.get(roomId);
    if (record !== undefined && (typeof record === "number" || !record.withdrawn)) return;
    const generation = record === undefined ? 0 : record.generation + 1;
    const result = await this.sender.sendEvent(roomId, "m.room.message",
      { msgtype: "m.notice", body: this.text, "m.mentions": { user_ids: [] } },
      txnIdFor("encrypted-room-notice", roomId, generation === 0 ? "notice" : `notice-${generation}`));
    if (result.ok) {
      await this.store.set(roomId, { at: Date.now(), eventId: result.eventId, generation });
      this.log.info({ roomId }, "told the room that encrypted messages cannot be read");
    } else {
      this.told.delete(roomId); // try again with the next encrypted message
    }
  }

  /**
   * The room's messages could be read after all: the notice is edited to say so. Idempotent (the edit's txnId
   * derives from the notice); false when there is no notice to withdraw (none, already withdrawn, or one without
   * a known event id).
   */
  async withdraw(roomId: string): Promise<boolean> {
    const record = await this.store.get(roomId);
    if (record === undefined || typeof record === "number" || record.withdrawn) return false;
    const result = await this.sender.sendEvent(roomId, "m.room.message", {
      msgtype: "m.notice", body: `* ${NOTICE_WITHDRAWN}`, "m.mentions": { user_ids: [] },
      "m.new_content": { msgtype: "m.notice", body: NOTICE_WITHDRAWN, "m.mentions": { user_ids: [] } },
      "m.relates_to": { rel_type: "m.replace", event_id: record.eventId },
    }, txnIdFor("encrypted-room-notice", roomId, `withdraw-${record.generation}`));
    if (!result.ok) {
      this.log.warn({ roomId, error: result.error.describe() }, "the undecryptable-message notice could not be withdrawn");
      return false;
    }
    await this.store.set(roomId, { ...record, withdrawn: true });
    this.told.delete(roomId);
    this.log.info({ roomId }, "withdrew the undecryptable-message notice: the message was read after all");
    return true;
  }
}
