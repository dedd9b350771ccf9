// The bot's messages in a room as a person reads the conversation: everything but its one-time introduction, each
// message once, showing its latest edit (m.replace), and only once it is written (a live message, MSC4357, whose
// latest content still carries the live marker, is not read yet).
import { INTRO_MARKER } from "../../src/rooms/lifecycle/records";
import { LIVE_MARKER } from "../../src/render/live-content";
import type { Homeserver } from "./homeserver";
import type { ClientEvent } from "./homeserver/types";

export function isIntroduction(event: ClientEvent): boolean {
  return event.content[INTRO_MARKER] === true;
}

type Content = Record<string, unknown>;

/** The event an edit replaces, if `content` is an edit (m.replace). */
export function replacedEventId(content: Content): string | undefined {
  const relation = content["m.relates_to"] as { rel_type?: unknown; event_id?: unknown } | undefined;
  return relation?.rel_type === "m.replace" && typeof relation.event_id === "string" ? relation.event_id : undefined;
}

/**
 * Messages with their edits applied, in order of their first event: each one's content is its latest edit's
 * `m.new_content` (edits by their sender only, as clients apply them). `live`: whether that content is still live.
 */
export function foldEdits<E extends { event_id: string; sender: string; content: Content }>(events: readonly E[]): Array<E & { live: boolean; edits: E[] }> {
  const originals = new Map<string, E & { live: boolean; edits: E[] }>();
  for (const event of events) {
    const target = replacedEventId(event.content);
    if (target === undefined) {
      originals.set(event.event_id, { ...event, live: LIVE_MARKER in event.content, edits: [] });
      continue;
    }
    const original = originals.get(target);
    const newContent = event.content["m.new_content"];
    if (!original || original.sender !== event.sender || typeof newContent !== "object" || newContent === null) continue;
    original.edits.push(event);
    original.content = { ...(newContent as Content), ...(original.content["m.relates_to"] ? { "m.relates_to": original.content["m.relates_to"] } : {}) };
    original.live = LIVE_MARKER in newContent;
  }
  return [...originals.values()];
}

/** The bot's written messages in the room (see the module comment): introduction left out, edits applied, live ones not yet. */
export function botMessagesIn(hs: Homeserver, roomId: string, botUserId: string): ClientEvent[] {
  return foldEdits(hs.sent({ roomId, sender: botUserId, type: "m.room.message" }).filter((e) => !isIntroduction(e)))
    .filter((m) => !m.live)
    .map(({ live: _live, edits: _edits, ...event }) => event);
}
