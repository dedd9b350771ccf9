// Without E2EE the bot cannot read encrypted messages. It says so once per room (never once per message) and
// stays. The txnId derives from the room, so even a race or a restart cannot post the notice twice.
import type Keyv from "keyv";
import type { Logger } from "pino";
import type { RoomMessageSender } from "../matrix/sender";
import { txnIdFor } from "../turns/turn-run";

export const ENCRYPTED_ROOM_NOTICE =
  "🔒 I can't read encrypted messages: end-to-end encryption is not enabled for this bot. " +
  "Talk to me in an unencrypted room, or ask the bot's operator to enable encryption (MATRIX_E2EE).";

export class EncryptedRoomNotice {
  private readonly told = new Set<string>();

  /** `text`: the notice posted (default: encryption not enabled; with MATRIX_E2EE, crypto's UNDECRYPTABLE_NOTICE). */
  constructor(private readonly store: Keyv<number>, private readonly sender: RoomMessageSender, private readonly log: Logger,
    private readonly text: string = ENCRYPTED_ROOM_NOTICE) {}

  /** Called for each encrypted event the bot cannot read. Posts the notice the first time per room. */
  async onUnreadable(roomId: string): Promise<void> {
    if (this.told.has(roomId)) return;
    this.told.add(roomId);
    if ((await this.store.get(roomId)) !== undefined) return;
    const result = await this.sender.sendEvent(roomId, "m.room.message",
      { msgtype: "m.notice", body: this.text, "m.mentions": { user_ids: [] } },
      txnIdFor("encrypted-room-notice", roomId, "notice"));
    if (result.ok) {
      await this.store.set(roomId, Date.now());
      this.log.info({ roomId }, "told the room that encrypted messages cannot be read");
    } else {
      this.told.delete(roomId); // try again with the next encrypted message
    }
  }
}
