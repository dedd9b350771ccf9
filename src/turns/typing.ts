// The bot's typing notification per room. Typing is one flag per user and room, while several turns may
// run in one room at once (the main timeline and Matrix threads): it goes on with the first turn, is renewed
// before it lapses, and goes off only when the last turn in the room ends. Requests for a room go out one at
// a time, in order, so a late renewal can never land after "off"; a renewal is skipped while the previous
// request is still on its way (a slow homeserver gets no pile-up). With a start delay, typing goes on only
// once a room has had a turn running for that long: a fast answer needs no indicator (and costs two requests
// fewer); "off" is sent only if "on" was.
import type { Logger } from "pino";
import type { RoomMessageSender } from "../matrix/sender";

interface RoomState {
  holders: number;
  /** Requests queued or on their way. */
  pending: number;
  chain: Promise<void>;
  /** The start delay, then the renewal interval. */
  timer: NodeJS.Timeout | undefined;
  /** "on" was sent (or is on its way) since the first holder came. */
  on: boolean;
}

export class RoomTyping {
  private readonly rooms = new Map<string, RoomState>();

  constructor(
    private readonly sender: Pick<RoomMessageSender, "setTyping">,
    /** Lifetime of one notification (at most 30 s); renewed at 60 % of it. */
    private readonly timeoutMs: number,
    private readonly log: Logger,
    /** How long the first holder must have held before "on" is sent (0: at once). */
    private readonly startDelayMs = 0,
  ) {}

  /** Typing on in `roomId` for as long as it is held. Returns the release function: it resolves once the
   *  last holder's "off" has been sent (at once for the others); calling it again does nothing. */
  hold(roomId: string): () => Promise<void> {
    const state = this.rooms.get(roomId) ?? { holders: 0, pending: 0, chain: Promise.resolve(), timer: undefined, on: false };
    this.rooms.set(roomId, state);
    state.holders += 1;
    if (state.holders === 1) {
      if (this.startDelayMs > 0) {
        state.timer = setTimeout(() => this.start(roomId, state), this.startDelayMs);
        state.timer.unref();
      } else {
        this.start(roomId, state);
      }
    }
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      state.holders -= 1;
      if (state.holders > 0) return;
      clearTimeout(state.timer); // the start delay or the renewal interval
      state.timer = undefined;
      if (state.on) {
        state.on = false;
        await this.send(roomId, state, false);
      }
      if (state.holders === 0 && state.pending === 0 && this.rooms.get(roomId) === state) this.rooms.delete(roomId);
    };
  }

  /** Whether "on" was sent (or is on its way) in `roomId`: its holders' release then sends "off". */
  isOn(roomId: string): boolean {
    return this.rooms.get(roomId)?.on === true;
  }

  private start(roomId: string, state: RoomState): void {
    state.on = true;
    void this.send(roomId, state, true);
    state.timer = setInterval(() => {
      if (state.pending === 0) void this.send(roomId, state, true);
    }, Math.max(10, Math.floor(this.timeoutMs * 0.6)));
    state.timer.unref();
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
