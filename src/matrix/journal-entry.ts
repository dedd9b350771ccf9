// A journal entry as stored (src/matrix/journal.ts) and what is read from it.
import { parseRoomEvent, type RoomEvent } from "./events";

/**
 * `json`: the event as JSON text. Entries written before that kept the event object itself (`event`). A pending entry
 * is stored without a ttl, a done one with `doneTtlMs` (what the store lists as open: journal.ts).
 */
export type JournalEntry =
  | { status: "pending"; json: string; receivedAt: number; late?: true }
  | { status: "pending"; event: unknown; receivedAt: number }
  | { status: "done"; at: number; late?: true; by?: string };
type Entry = JournalEntry;

/** The event as JSON text, or why it has none (nested too deeply for JSON.stringify). */
export function asJsonText(event: RoomEvent): string | { unstorable: string } {
  try {
    return JSON.stringify(event);
  } catch (error) {
    return { unstorable: `not storable as JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
}

export function isLate(entry: Entry): boolean {
  return "late" in entry && entry.late === true;
}

export function eventOf(entry: Extract<Entry, { status: "pending" }>): ReturnType<typeof parseRoomEvent> {
  let raw: unknown;
  try {
    raw = "json" in entry ? JSON.parse(entry.json) : entry.event;
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  }
  return parseRoomEvent(raw);
}
