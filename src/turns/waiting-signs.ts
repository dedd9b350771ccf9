// What a user sees of a turn while its agent works: the typing notification (typing.ts) and the read receipt on the
// message, both only once the agent has taken longer than TYPING_DELAY_MS (a quick answer needs neither: it shows
// by itself that the message was read, clients count a user's own event as read up to it). An answer in hand is
// on its way: while it is delivered, typing that is not on yet does not go on, and its delay starts again once the
// answer is out (for an agent that goes on working); the receipt not sent yet is not sent at all. A delivery slowed
// down (a busy homeserver, a full outbox) thus costs no typing on, typing off and receipt: three requests.
import type { RoomTyping } from "./typing";

export class WaitingSigns {
  private releaseTyping: () => Promise<void>;
  private receipt: NodeJS.Timeout | undefined;
  private receiptDue = true;
  private over = false;

  constructor(private readonly typing: RoomTyping, private readonly roomId: string, delayMs: number,
    private readonly sendReceipt: () => void) {
    if (delayMs > 0) {
      this.receipt = setTimeout(() => this.receiptNow(), delayMs);
      this.receipt.unref();
    } else {
      this.receiptNow();
    }
    this.releaseTyping = typing.hold(roomId);
  }

  /** Wraps the delivery of one answer message. */
  async delivering<T>(deliver: () => Promise<T>): Promise<T> {
    this.receiptDue = false;
    clearTimeout(this.receipt);
    const paused = !this.typing.isOn(this.roomId);
    if (paused) void this.releaseTyping();
    try {
      return await deliver();
    } finally {
      if (paused && !this.over) this.releaseTyping = this.typing.hold(this.roomId);
    }
  }

  /** The agent is done: what is left is delivery (the answer, or a failure notice). Typing not on yet stays off. */
  agentDone(): void {
    clearTimeout(this.receipt);
    this.over = true;
    if (!this.typing.isOn(this.roomId)) void this.releaseTyping();
  }

  /** The receipt not sent yet goes now if nothing of the run will be posted (`postsNothing`), else never. */
  settleReceipt(postsNothing: boolean): void {
    clearTimeout(this.receipt);
    if (postsNothing && this.receiptDue) this.receiptNow();
    this.receiptDue = false;
  }

  /** The turn is over: typing goes off (if it went on) once the other turns in the room are over too. */
  end(): Promise<void> {
    this.over = true;
    return this.releaseTyping();
  }

  private receiptNow(): void {
    this.receiptDue = false;
    this.sendReceipt();
  }
}
