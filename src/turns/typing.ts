// The bot's typing notification per room. Typing is one flag per user and room, while several turns may
// run in one room at once (the main timeline and Matrix threads): it goes on with the first turn, is renewed
// before it lapses, and goes off only when the last turn in the room ends. Requests for a room go out one at
// a time, in order, so a late renewal can never land after "off"; a renewal is skipped while the previous
// request is still on its way (a slow homeserver gets no pile-up).
import type { Logger } from "pino";
import type { RoomMessageSender } from "../matrix/sender";

interface RoomState {
  holders: number;
  /** Requests queued or on their way. */
  pending: number;
  chain: Promise<void>;
  timer: NodeJS.Timeout | undefined;
}

export class RoomTyping {
  private readonly rooms = new Map<string, RoomState>();

  constructor(
    private readonly sender: Pick<RoomMessageSender, "setTyping">,
    /** Lifetime of one notification (at most 30 s); renewed at 60 % of it. */
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {}

  /** Typing on in `roomId` for as long as it is held. Returns the release function: it resolves once the
   *  last holder's "off" has been sent (at once for the others); calling it again does nothing. */
  hold(roomId: string): () => Promise<void> {
    const state = this.rooms.get(roomId) ?? { holders: 0, pending: 0, chain: Promise.resolve(), timer: undefined };
    this.rooms.set(roomId, state);
    state.holders += 1;
    if (state.holders === 1) {
      void this.send(roomId, state, true);
      state.timer = setInterval(() => {
        if (state.pending === 0) void this.send(roomId, state, true);
      }, Math.max(10, Math.floor(this.timeoutMs * 0.6)));
      state.timer.unref();
    }
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      state.holders -= 1;
      if (state.holders > 0) return;
      clearInterval(state.timer);
      state.timer = undefined;
      await this.send(roomId, state, false);
      if (state.holders === 0 && state.pending === 0 && this.rooms.get(roomId) === state) this.rooms.delete(roomId);
    };
  }

  private send(roomId: string, state: RoomState, typing: boolean): Promise<void> {
    state.pending += 1;
    const request = state.chain
      .then(() => this.sender.setTyping(roomId, typing, this.timeoutMs))
      .catch((e: unknown) => this.log.debug({ roomId, typing, err: String(e) }, "typing not sent"))
      .finally(() => {
        state.pending -= 1;
      });
    state.chain = request;
    return request;
  }
}
