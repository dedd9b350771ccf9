// Whether a room's answers are shown as they are written: STREAMING (edits|final) is the default, `/stream on|off`
// overrides it per room, and a room whose MSC4357 state (`org.matrix.msc4357.live_messaging` or
// `m.room.live_messaging`, `{"enabled": false}`) turned live messaging off always gets final answers only.
// The room state is read once per room (absent: allowed) and then followed from the events the router sees.
import type { Logger } from "pino";
import type { RoomEvent } from "../matrix/events";
import { LIVE_MESSAGING_STATE_TYPES } from "./live-content";

export type StreamingMode = "edits" | "final";

export interface LivePolicyOptions {
  defaultMode: StreamingMode;
  /** The room's `/stream` setting, if it has one. */
  roomSetting(roomId: string): Promise<"on" | "off" | undefined>;
  /** A current state event's content; undefined when there is none (404). Throws when it cannot tell. */
  readState(roomId: string, type: string): Promise<Record<string, unknown> | undefined>;
  log: Logger;
  /** Rooms whose live-messaging state is kept in memory. Default 10,000. */
  cacheSize?: number;
}

export class LivePolicy {
  /** roomId → type → whether that state allows live messages. */
  private readonly known = new Map<string, Map<string, boolean>>();
  readonly name = "live-messaging";

  constructor(private readonly opts: LivePolicyOptions) {}

  /** Whether answers in `roomId` are shown as they are written. */
  async streams(roomId: string): Promise<boolean> {
    const setting = await this.opts.roomSetting(roomId);
    const wanted = setting === undefined ? this.opts.defaultMode === "edits" : setting === "on";
    return wanted && (await this.roomAllows(roomId));
  }

  /** Whether the room's MSC4357 state allows live messages (it does when absent or unreadable). */
  async roomAllows(roomId: string): Promise<boolean> {
    let states = this.known.get(roomId);
    for (const type of LIVE_MESSAGING_STATE_TYPES) {
      if (states?.has(type)) continue;
      try {
        const content = await this.opts.readState(roomId, type);
        states = this.remember(roomId, type, content?.["enabled"] !== false);
      } catch (err) {
        this.opts.log.debug({ roomId, type, err: String(err) }, "live messaging state not readable; taken as allowed for now");
        break; // the homeserver did not answer this one: no second request now (it may be down, or the token gone)
      }
    }
    return [...(states?.values() ?? [])].every((allowed) => allowed);
  }

  /** Router observer: follows changes of the room state. */
  async onEvent(event: RoomEvent): Promise<void> {
    if (event.state_key !== "" || !(LIVE_MESSAGING_STATE_TYPES as readonly string[]).includes(event.type)) return;
    const allowed = event.content["enabled"] !== false;
    this.remember(event.room_id, event.type, allowed);
    this.opts.log.info({ roomId: event.room_id, type: event.type, allowed }, "the room's live messaging setting changed");
  }

  private remember(roomId: string, type: string, allowed: boolean): Map<string, boolean> {
    let states = this.known.get(roomId);
    if (!states) {
      states = new Map();
      this.known.set(roomId, states);
      if (this.known.size > (this.opts.cacheSize ?? 10_000)) this.known.delete(this.known.keys().next().value ?? "");
    }
    states.set(type, allowed);
    return states;
  }
}
