// Rooms the bot joins before it knows it should stay: the replacement named by a tombstone (is it really the upgrade
// of this room?) and a space child whose join rule is readable only once joined. Until the check has decided,
// whoever asks about the room (the thread key of a message there, the introduction on the bot's join) waits for the
// verdict, so nothing is keyed, answered or introduced on a room the bot is about to leave.
import { KeyedLock } from "../../util/keyed-lock";

export class RoomChecks {
  private readonly order = new KeyedLock();
  private readonly verdicts = new Map<string, Promise<boolean>>();

  /**
   * Runs `check` for `roomId` after any check of it still under way; it resolves to whether the bot stays. A
   * failing check counts as "stays" for the waiters (nothing was decided; the failure is the caller's to log).
   */
  run(roomId: string, check: () => Promise<boolean>): Promise<boolean> {
    const next = this.order.run(roomId, check);
    const verdict = next.catch(() => true);
    this.verdicts.set(roomId, verdict);
    void verdict.then(() => this.verdicts.get(roomId) === verdict && this.verdicts.delete(roomId));
    return next;
  }

  /** Whether a check of the room is under way (stays() would wait for it). */
  underWay(roomId: string): boolean {
    return this.verdicts.has(roomId);
  }

  /** Whether the bot stays in the room: waits for the last check asked for; true when none is under way. */
  async stays(roomId: string): Promise<boolean> {
    return (await this.verdicts.get(roomId)) ?? true;
  }
}
