/**
 * Cleaning of untrusted agent text before it is rendered or sent to Matrix.
 *
 * What is removed or changed, and why:
 * - `\r\n` and lone `\r` become `\n`; U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR become `\n`
 *   (some renderers break lines on them, others do not: the text would read differently per client).
 * - C0 controls except `\t` and `\n`, DEL, and C1 controls (U+0080–U+009F): terminal escapes, NUL, etc.
 * - Bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069): they reorder what is shown
 *   ("Trojan Source", spoofed file names and links). The bidi *marks* LRM/RLM/ALM (U+200E, U+200F,
 *   U+061C) are kept: right-to-left text legitimately uses them and they cannot reorder a whole span.
 * - Invisible characters that change what a copied command or link is without showing anything:
 *   U+200B ZERO WIDTH SPACE, U+2060–U+2064 (word joiner, invisible operators), U+FEFF (BOM / zero width
 *   no-break space), U+180E MONGOLIAN VOWEL SEPARATOR, U+206A–U+206F (deprecated shaping controls),
 *   U+FFF9–U+FFFB (interlinear annotation, which some renderers hide).
 *   ZWNJ/ZWJ (U+200C, U+200D) are kept: several scripts and every multi-person emoji need them.
 * - Unicode TAG characters (U+E0000–U+E007F), used for "ASCII smuggling" of text invisible to people
 *   but read by language models and bots. The only legitimate use, emoji subdivision flags
 *   (U+1F3F4 followed by tag letters/digits and U+E007F CANCEL TAG, e.g. the Scottish flag), is kept.
 * - Runs of variation selectors (U+FE00–U+FE0F, U+E0100–U+E01EF) are cut to their first selector: a
 *   real variation sequence has exactly one; longer runs carry hidden payloads ("emoji smuggling").
 * - Unpaired UTF-16 surrogates become U+FFFD, so the text is valid UTF-8 once serialized.
 */

/** Appended (after a cut) when the text was longer than allowed. */
export const TRUNCATION_MARKER = "… (truncated)";

export const DEFAULT_MAX_AGENT_CHARS = 200_000;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const LINE_BREAKS = /\r\n?|[\u2028\u2029]/g;
// eslint-disable-next-line no-control-regex
const REMOVED = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069\u200B\u2060-\u2064\uFEFF\u180E\u206A-\u206F\uFFF9-\uFFFB]/g;
// A subdivision flag sequence (kept) or any other tag character (removed).
const TAGS = /(\u{1F3F4}[\u{E0030}-\u{E0039}\u{E0061}-\u{E007A}]{1,8}\u{E007F})|[\u{E0000}-\u{E007F}]/gu;
const VARIATION_SELECTOR_RUN = /([\uFE00-\uFE0F\u{E0100}-\u{E01EF}])[\uFE00-\uFE0F\u{E0100}-\u{E01EF}]+/gu;

/**
 * Removes control, bidi and invisible characters (see the module comment) and bounds the size.
 * The result is at most `maxChars` UTF-16 code units long, cut on a code point boundary; when cut, it
 * ends with {@link TRUNCATION_MARKER}.
 */
export function cleanAgentText(text: string, maxChars: number = DEFAULT_MAX_AGENT_CHARS): string {
  if (!Number.isInteger(maxChars) || maxChars < 1) {
    throw new RangeError(`cleanAgentText: maxChars must be a positive integer, got ${String(maxChars)}`);
  }
  // Cleaning only ever shortens text (CRLF → LF at most halves it), so a prefix of a bounded multiple
  // is enough to fill maxChars in any realistic case; the rest never needs to be scanned.
  const scanLimit = maxChars * 4 + 1024;
  const cutBeforeCleaning = text.length > scanLimit;
  const cleaned = cleanUnbounded(cutBeforeCleaning ? cutAtCodePoint(text, scanLimit) : text);
  if (!cutBeforeCleaning && cleaned.length <= maxChars) return cleaned;
  if (maxChars <= TRUNCATION_MARKER.length) return cutAtCodePoint(cleaned, maxChars);
  const kept = cutAtCodePoint(cleaned, maxChars - TRUNCATION_MARKER.length);
  return trimTrailingBlanks(kept) + TRUNCATION_MARKER;
}

/** Drops trailing spaces and tabs (a loop: `/[ \t]+$/` is quadratic on long inner runs of blanks). */
function trimTrailingBlanks(text: string): string {
  let end = text.length;
  while (end > 0 && (text[end - 1] === " " || text[end - 1] === "\t")) end -= 1;
  return text.slice(0, end);
}

function cleanUnbounded(text: string): string {
  return text
    .replace(LONE_SURROGATE, "\uFFFD")
    .replace(LINE_BREAKS, "\n")
    .replace(REMOVED, "")
    .replace(TAGS, (_match: string, flag: string | undefined) => flag ?? "")
    .replace(VARIATION_SELECTOR_RUN, "$1");
}

/** The longest prefix of `text` with at most `maxUnits` UTF-16 code units that does not split a pair. */
export function cutAtCodePoint(text: string, maxUnits: number): string {
  if (text.length <= maxUnits) return text;
  let end = Math.max(0, maxUnits);
  if (end > 0 && isHighSurrogate(text.charCodeAt(end - 1)) && isLowSurrogate(text.charCodeAt(end))) end -= 1;
  return text.slice(0, end);
}

export function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

export function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
