// Builds the Matrix contents of an answer: formatted, split, with explicit m.mentions and the right relation
// (a reply in group rooms, plain in DMs, in-thread inside a Matrix thread).
import { buildMessageContents, mentionsFor } from "../matrix/format";

export interface ReplyTarget {
  roomId: string;
  /** The event being answered (the last of the batch). */
  eventId: string;
  sender: string;
  isDirect: boolean;
  threadRootId?: string;
}

type Content = Record<string, unknown>;

export function relationFor(target: ReplyTarget): Content | undefined {
  if (target.threadRootId !== undefined) {
    return { rel_type: "m.thread", event_id: target.threadRootId, is_falling_back: true,
      "m.in_reply_to": { event_id: target.eventId } };
  }
  if (!target.isDirect) return { "m.in_reply_to": { event_id: target.eventId } };
  return undefined;
}

/**
 * Bytes an edit's fallback (the top-level `body`/`formatted_body` that clients without edit support show)
 * may take: a long answer's fallback is a short start of it, so an edit can carry nearly a whole event's
 * worth of answer in `m.new_content`.
 */
export const EDIT_FALLBACK_MAX_BYTES = 8_000;
/** What `buildMessageContents` reserves by default for relations, mentions and the event envelope. */
const DEFAULT_OVERHEAD_BYTES = 2_000;

/** The contents of one agent message: several when it must be split; only the first carries the reply. */
export function answerContents(text: string, target: ReplyTarget, msgtype: "m.text" | "m.notice" = "m.text",
  opts: { forEdit?: boolean; reserveBytes?: number } = {}): Content[] {
  // Parts meant for an edit leave room for its fallback next to m.new_content; `reserveBytes` for what is added.
  const overheadBytes = DEFAULT_OVERHEAD_BYTES + (opts.forEdit ? EDIT_FALLBACK_MAX_BYTES : 0) + (opts.reserveBytes ?? 0);
  const parts = buildMessageContents(text, { msgtype, overheadBytes });
  const mentions = mentionsFor({ userIds: target.isDirect ? [] : [target.sender] });
  return parts.map((part, i) => {
    const content: Content = { ...part, "m.mentions": i === 0 ? mentions : { user_ids: [] } };
    const relation = i === 0 || target.threadRootId !== undefined ? relationFor(target) : undefined;
    if (relation) content["m.relates_to"] = relation;
    return content;
  });
}

/**
 * An edit (m.replace) of `originalEventId` into `newContent`. The fallback is `* ` and the new content; when
 * that would take more than EDIT_FALLBACK_MAX_BYTES, it is the plain start of the body and "…".
 */
export function editContent(originalEventId: string, newContent: Content): Content {
  // Copied key by key (object rest patterns cost more than the rest of an edit): the same keys in the same order.
  const inner: Content = {};
  const edit: Content = {};
  for (const key of Object.keys(newContent)) {
    if (key === "m.relates_to") continue;
    define(inner, key, newContent[key]);
    if (!TEXT_FIELDS.has(key)) define(edit, key, newContent[key]);
  }
  Object.assign(edit, editFallback(newContent));
  edit["m.new_content"] = inner;
  edit["m.relates_to"] = { rel_type: "m.replace", event_id: originalEventId };
  return edit;
}

/** `target[key] = value` as a spread writes it: an own field even when the key is `__proto__`. */
function define(target: Content, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/** The fields an edit's fallback replaces. */
const TEXT_FIELDS: ReadonlySet<string> = new Set(["body", "format", "formatted_body"]);
/** Most UTF-8 bytes one UTF-16 unit of a string takes in JSON (`\uXXXX`). */
const MAX_JSON_BYTES_PER_UNIT = 6;

function editFallback(content: Content): Content {
  const body = String(content["body"] ?? "");
  const html = content["formatted_body"];
  const full: Content = typeof html === "string"
    ? { body: `* ${body}`, format: content["format"], formatted_body: `* ${html}` }
    : { body: `* ${body}` };
  // Short texts fit whatever they hold: measured only when they might not.
  const format = content["format"];
  const units = body.length + (typeof html === "string" ? html.length + (typeof format === "string" ? format.length : 0) : 0);
  const knownSmall = (typeof html !== "string" || format === undefined || typeof format === "string")
    && units * MAX_JSON_BYTES_PER_UNIT + 128 <= EDIT_FALLBACK_MAX_BYTES;
  if (knownSmall || jsonBytes(full) <= EDIT_FALLBACK_MAX_BYTES) return full;
  // Characters take at most 6 JSON bytes (\uXXXX), so this many always fit.
  const chars = [...body].slice(0, Math.floor((EDIT_FALLBACK_MAX_BYTES - 16) / 6));
  return { body: `* ${chars.join("")}…` };
}

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), "utf8");
}
