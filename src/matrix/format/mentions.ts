/**
 * Mentions in the bot's messages are explicit (`m.mentions`, Matrix 1.7 "intentional mentions"), so
 * agent text never pings anyone by itself.
 *
 * - Servers and clients supporting intentional mentions (Synapse since 2023, current Element) do not
 *   apply the legacy keyword rules (`.m.rule.roomnotif` on "@room", `.m.rule.contains_display_name`,
 *   `.m.rule.contains_user_name`) to an event that carries `m.mentions`; only the listed ids are pinged,
 *   and `room` is never set.
 * - For older servers and clients that still match "@room" in `body`, {@link neutralizeRoomMentions}
 *   puts U+2060 WORD JOINER between "@" and "room" in `body`. It is invisible, breaks the literal match,
 *   and, unlike ZWJ (U+200D), does not join glyphs. `formatted_body` is left as written (push rules do
 *   not read it), so what readers see and copy from rich clients is unchanged. Display names and user
 *   names in agent text cannot be neutralized this way; against legacy servers only `m.mentions` helps.
 */

export const ROOM_MENTION_GUARD = "\u2060";

export interface Mentions {
  user_ids: string[];
}

// Localpart without ':' or whitespace, then a server name; 255 bytes at most (spec limit).
const USER_ID = /^@[^\s:]+:[^\s]+$/;
const MAX_USER_ID_BYTES = 255;

/**
 * The `m.mentions` content for a message: exactly the given user ids (e.g. the asker in a group room),
 * deduplicated, in order, anything not shaped like a user id dropped. Never `room: true`.
 */
export function mentionsFor(opts: { userIds?: readonly string[] } = {}): Mentions {
  const seen = new Set<string>();
  for (const id of opts.userIds ?? []) {
    if (USER_ID.test(id) && Buffer.byteLength(id, "utf8") <= MAX_USER_ID_BYTES) seen.add(id);
  }
  return { user_ids: [...seen] };
}

// "@room" as the legacy rule would match it: case-insensitive, not followed by a word character.
const ROOM_MENTION = /@(?=room(?![\p{L}\p{N}_]))/giu;

/** Inserts {@link ROOM_MENTION_GUARD} into every "@room" so legacy push rules do not match it. */
export function neutralizeRoomMentions(body: string): string {
  return body.replace(ROOM_MENTION, `@${ROOM_MENTION_GUARD}`);
}
