/**
 * Thread keys: one string per conversation the agent sees, built from
 * (room id, Matrix thread root or none, generation bumped by `/reset`).
 *
 * Format, version 1:
 *
 *     v1.<room>~g<generation>            the room's main timeline
 *     v1.<room>~g<generation>~<thread>   a Matrix thread (m.thread) in that room
 *
 *   <room>        the room id without its leading "!", escaped
 *   <thread>      the thread root event id without its leading "$", escaped
 *   <generation>  decimal, no leading zeros (0, 1, 2, ...)
 *
 * Escaping keeps `A-Z a-z 0-9 . -` as they are and writes every other character as its UTF-8 bytes,
 * each as `_` plus two UPPERCASE hex digits (`_` itself is `_5F`, `:` is `_3A`, `ü` is `_C3_BC`).
 * Escaped text never contains `~`, so the parts split unambiguously; the output alphabet is
 * `[A-Za-z0-9._~-]` (RFC 3986 unreserved: safe in URLs, file names, store keys). Case is kept exactly.
 *
 *     !abc:example.org, main timeline, generation 0  →  v1.abc_3Aexample.org~g0
 *     !abcDEF_-123 (room v12), generation 2          →  v1.abcDEF_5F-123~g2
 *     thread $Rqnc-F_x in !abc:example.org, gen 1     →  v1.abc_3Aexample.org~g1~Rqnc-F_5Fx
 *
 * The decoder accepts exactly the strings the encoder produces (it re-encodes and compares), so
 * encode and decode are inverse bijections between valid inputs and valid keys. A future format gets
 * a new prefix ("v2."); the decoder then answers undefined for it until it learns it.
 */

export interface ThreadKeyParts {
  roomId: string;
  /** The event id of the Matrix thread root; absent for the room's main timeline. */
  threadRootId?: string;
  /** Bumped by `/reset`: a new generation starts a fresh conversation with the agent. */
  generation: number;
}

export const THREAD_KEY_PREFIX = "v1.";

const PART_SEPARATOR = "~";
const GENERATION_MARK = "g";
const ESCAPED_PART = /^(?:[A-Za-z0-9.-]|_[0-9A-F]{2})+$/;
const GENERATION = /^(?:0|[1-9][0-9]*)$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Text made only of kept characters (most room and event ids but for the `:` of the server name). */
const ALL_KEPT = /^[A-Za-z0-9.-]*$/;
/** The runs of characters that are escaped. */
const NOT_KEPT = /[^A-Za-z0-9.-]+/g;

function escapePart(text: string): string {
  // Asked for every routed message: the kept runs are copied as they are, only the rest is escaped character by character.
  return ALL_KEPT.test(text) ? text : text.replace(NOT_KEPT, escapeRun);
}

/** `_XX` of every byte value. */
const ESCAPED_BYTES = Array.from({ length: 256 }, (_, byte) => `_${byte.toString(16).toUpperCase().padStart(2, "0")}`);

/** Every character as its UTF-8 bytes, `_XX` each (an ASCII character is its own byte: no encoder for it). */
function escapeRun(text: string): string {
  let out = "";
  for (const char of text) {
    const code = char.charCodeAt(0);
    if (code < 0x80) out += ESCAPED_BYTES[code] ?? "";
    else for (const byte of encoder.encode(char)) out += ESCAPED_BYTES[byte] ?? "";
  }
  return out;
}

function unescapePart(part: string): string | undefined {
  if (!ESCAPED_PART.test(part)) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < part.length; i += 1) {
    if (part[i] === "_") {
      bytes.push(Number.parseInt(part.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(part.charCodeAt(i));
    }
  }
  try {
    return decoder.decode(Uint8Array.from(bytes));
  } catch {
    return undefined; // not UTF-8
  }
}

function checkId(id: unknown, sigil: string, what: string): string {
  if (typeof id !== "string" || !id.startsWith(sigil) || id.length <= sigil.length) {
    throw new TypeError(`thread key: ${what} must be a non-empty string starting with "${sigil}"`);
  }
  if (LONE_SURROGATE.test(id)) throw new TypeError(`thread key: ${what} is not well-formed Unicode`);
  return id.slice(sigil.length);
}

/** Builds the thread key. Throws TypeError for input that is not a room id / event id / generation. */
export function encodeThreadKey(parts: ThreadKeyParts): string {
  const room = checkId(parts.roomId, "!", "roomId");
  const generation = parts.generation;
  if (!Number.isSafeInteger(generation) || generation < 0) {
    throw new TypeError("thread key: generation must be a non-negative safe integer");
  }
  let key = `${THREAD_KEY_PREFIX}${escapePart(room)}${PART_SEPARATOR}${GENERATION_MARK}${generation}`;
  if (parts.threadRootId !== undefined) {
    key += PART_SEPARATOR + escapePart(checkId(parts.threadRootId, "$", "threadRootId"));
  }
  return key;
}

/** The parts of a key made by encodeThreadKey; undefined for anything else. Never throws. */
export function decodeThreadKey(key: string): ThreadKeyParts | undefined {
  if (typeof key !== "string" || !key.startsWith(THREAD_KEY_PREFIX)) return undefined;
  const pieces = key.slice(THREAD_KEY_PREFIX.length).split(PART_SEPARATOR);
  if (pieces.length < 2 || pieces.length > 3) return undefined;
  const [roomPart, generationPart, threadPart] = pieces;
  if (roomPart === undefined || generationPart === undefined) return undefined;
  if (!generationPart.startsWith(GENERATION_MARK)) return undefined;
  const digits = generationPart.slice(GENERATION_MARK.length);
  if (!GENERATION.test(digits)) return undefined;
  const generation = Number(digits);
  if (!Number.isSafeInteger(generation)) return undefined;
  const room = unescapePart(roomPart);
  if (room === undefined) return undefined;
  let parts: ThreadKeyParts;
  if (threadPart === undefined) {
    parts = { roomId: `!${room}`, generation };
  } else {
    const thread = unescapePart(threadPart);
    if (thread === undefined) return undefined;
    parts = { roomId: `!${room}`, threadRootId: `$${thread}`, generation };
  }
  // Only the canonical spelling is a key (no `_41` for "A", no lowercase hex, ...).
  try {
    return encodeThreadKey(parts) === key ? parts : undefined;
  } catch {
    return undefined;
  }
}

/** True for exactly the strings encodeThreadKey can return. */
export function isThreadKey(value: unknown): value is string {
  return typeof value === "string" && decodeThreadKey(value) !== undefined;
}
