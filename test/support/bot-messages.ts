// The bot's messages in a room as a person reads the conversation: everything but its one-time introduction.
import { INTRO_MARKER } from "../../src/rooms/lifecycle/records";
import type { Homeserver } from "./homeserver";
import type { ClientEvent } from "./homeserver/types";

export function isIntroduction(event: ClientEvent): boolean {
  return event.content[INTRO_MARKER] === true;
}

export function botMessagesIn(hs: Homeserver, roomId: string, botUserId: string): ClientEvent[] {
  return hs.sent({ roomId, sender: botUserId, type: "m.room.message" }).filter((e) => !isIntroduction(e));
}
