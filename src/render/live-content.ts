// The Matrix shape of a live answer (MSC4357 "Live Messages via Event Replacement"): the first event of a live
// message carries `org.matrix.msc4357.live: {}`, every edit replaces the whole content (`m.new_content`, still
// marked while the message is being written), the final edit is not marked. Also: how many bytes an event takes
// on the wire, encrypted or not, so that a live message never outgrows one event.
import { buildMessageContents, mentionsFor } from "../matrix/format";
import { editContent, relationFor, type ReplyTarget } from "../turns/reply-content";
import { withWork, type WorkView } from "./work-view";

export type Content = Record<string, unknown>;

/** MSC4357's unstable content marker. */
export const LIVE_MARKER = "org.matrix.msc4357.live";
/** MSC4357's room state that turns live messages off (`enabled: false`), unstable and stable names. */
export const LIVE_MESSAGING_STATE_TYPES = ["org.matrix.msc4357.live_messaging", "m.room.live_messaging"] as const;
/** What the last edit of a message whose run was cut short says after its text. */
export const INTERRUPTED_MARK = "(interrupted)";

/**
 * Most bytes an edit of a live message may take as sent (its JSON content, or the Megolm ciphertext content
 * that replaces it in an encrypted room). Synapse refuses events over 65,536 bytes; the rest is left for the
 * event's envelope (ids, hashes, signatures) and for the "(interrupted)" mark a restart may add.
 */
export const LIVE_EVENT_MAX_BYTES = 58_000;

export function isLive(content: Content): boolean {
  return LIVE_MARKER in content;
}

/** `content` marked live. */
export function markLive(content: Content): Content {
  return { ...content, [LIVE_MARKER]: {} };
}

/**
 * The content of one Matrix message of an answer, from its markdown (and the agent's work above it, work-view.ts):
 * the first message of an answer replies (and mentions the asker in a group room), later ones only stay in the
 * thread. `content` is undefined when it shows nothing, and when the text would not fit one event at all
 * (`tooLarge`: the live renderer cuts it first).
 */
export function segmentContent(text: string, target: ReplyTarget, first: boolean,
  msgtype: "m.text" | "m.notice" = "m.text", work?: WorkView): { content?: Content; tooLarge: boolean } {
  const parts = buildMessageContents(text, { msgtype, maxEventBytes: 65_536, overheadBytes: 0 });
  if (parts.length > 1) return { tooLarge: true };
  const part = work === undefined ? parts[0] : withWork(parts[0], work, msgtype);
  if (part === undefined) return { tooLarge: false };
  const content: Content = { ...part, "m.mentions": mentionsFor({ userIds: first && !target.isDirect ? [target.sender] : [] }) };
  const relation = first || target.threadRootId !== undefined ? relationFor(target) : undefined;
  if (relation) content["m.relates_to"] = relation;
  return { content, tooLarge: false };
}

/**
 * An edit of a live message into `content`: marked while `live`; its top-level `m.mentions` names nobody (the
 * first event already mentioned whom it had to: an edit must not notify again), `m.new_content` keeps them.
 */
export function liveEdit(eventId: string, content: Content, live: boolean): Content {
  const edit = editContent(eventId, live ? markLive(content) : content);
  return { ...edit, "m.mentions": {} };
}

/** The text of a message whose run was cut short: what was written, then the mark (an open code block closed first). */
export function interruptedText(text: string): string {
  const body = text.trimEnd();
  const openFence = openFenceOf(body);
  return `${body}${openFence === undefined ? "" : `\n${openFence}`}\n\n${INTERRUPTED_MARK}`;
}

/** The marker that closes a fenced code block still open at the end of `text`, if any. */
export function openFenceOf(text: string): string | undefined {
  let open: { indent: string; marker: string } | undefined;
  for (const line of text.split("\n")) {
    const fence = /^( {0,3})(`{3,}|~{3,})(.*)$/.exec(line);
    if (!fence) continue;
    const [, indent = "", marker = "", info = ""] = fence;
    if (open === undefined) {
      if (!(marker.startsWith("`") && info.includes("`"))) open = { indent, marker };
    } else if (marker[0] === open.marker[0] && marker.length >= open.marker.length && info.trim() === "") {
      open = undefined;
    }
  }
  return open === undefined ? undefined : `${open.indent}${open.marker}`;
}

/** Bytes `content` takes as sent into `roomId`: its JSON, or (encrypted) the m.room.encrypted content carrying it. */
export function sentBytes(roomId: string, content: Content, encrypted: boolean): number {
  const json = Buffer.byteLength(JSON.stringify(content), "utf8");
  if (!encrypted) return json;
  // Megolm: the clear event {"type","content","room_id"} is AES-256-CBC encrypted (PKCS#7 padding), framed with
  // a version byte, the message index and the length (≤ 10 bytes), an 8-byte MAC and a 64-byte signature, then
  // base64-encoded; the content adds algorithm, sender key, session id and device id, and the relation in clear.
  const clear = json + Buffer.byteLength(roomId, "utf8") + 48;
  const framed = Math.ceil((clear + 1) / 16) * 16 + 10 + 8 + 64;
  const relation = content["m.relates_to"];
  const relationBytes = relation === undefined ? 0 : Buffer.byteLength(JSON.stringify(relation), "utf8") + 20;
  return Math.ceil((framed * 4) / 3) + 300 + relationBytes;
}
