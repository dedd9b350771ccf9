// What the standby scenarios count (standby-traffic.ts): the bot's room messages as a client shows them. A message
// edited since (m.replace) shows its last edit's text: an answer that took over its placeholder ("…", posted when a
// run takes longer than PLACEHOLDER_DELAY_MS) is only in an edit, and live answers end with an edit of their whole
// text. Counting first versions only took such an answer for a lost turn.
import type { ClientEvent } from "../support/homeserver/types";
import { FAILURE_TEXTS } from "../../src/turns/failure-text";

export interface ShownMessage {
  body: string;
  /** Whether an edit set the text shown. */
  edited: boolean;
}

/** `events`: one sender's m.room.message events in the order the homeserver took them. */
export function shownMessages(events: readonly ClientEvent[]): ShownMessage[] {
  const lastEdit = new Map<string, unknown>();
  for (const e of events) {
    const relation = e.content["m.relates_to"] as { rel_type?: unknown; event_id?: unknown } | undefined;
    const fresh = e.content["m.new_content"] as { body?: unknown } | undefined;
    if (typeof fresh === "object" && fresh !== null && relation?.rel_type === "m.replace" && typeof relation.event_id === "string") {
      lastEdit.set(relation.event_id, fresh.body);
    }
  }
  return events.filter((e) => e.content["m.new_content"] === undefined).flatMap((e) => {
    const edited = lastEdit.has(e.event_id);
    const body = edited ? lastEdit.get(e.event_id) : e.content["body"];
    return typeof body === "string" ? [{ body, edited }] : [];
  });
}

/** The failure notices among them (FAILURE_TEXTS: a turn told to be sent again is lost), by kind: `link_lost:3`. */
export function failureNotices(messages: readonly ShownMessage[]): string[] {
  const counts = new Map<string, number>();
  for (const { body } of messages) {
    const kind = Object.entries(FAILURE_TEXTS).find(([, text]) => body.includes(text))?.[0];
    if (kind !== undefined) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return [...counts].map(([kind, n]) => `${kind}:${n}`);
}
