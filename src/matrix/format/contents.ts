/**
 * Agent text → one or more `m.room.message` contents, each small enough to send.
 */
import { z } from "zod";
import { DEFAULT_MAX_AGENT_CHARS, cleanAgentText, cutAtCodePoint } from "./clean";
import { neutralizeRoomMentions } from "./mentions";
import { MATRIX_HTML_FORMAT, renderMarkdown } from "./render";
import { MarkdownSplitter, wholeMarkdown } from "./split";

export type MessageType = "m.text" | "m.notice";

export interface MessageContent {
  msgtype: MessageType;
  body: string;
  format?: typeof MATRIX_HTML_FORMAT;
  formatted_body?: string;
}

/** Matrix rejects events over 65,536 bytes (whole event, as JSON). */
export const MATRIX_EVENT_LIMIT_BYTES = 65_536;
/**
 * Default bound of a part: its content JSON plus `overheadBytes` (2,000 by default, for relations and mentions; an
 * edit also reserves its fallback in there). In an encrypted room the content travels inside a Megolm ciphertext,
 * base64 of the plaintext `{type, content, room_id}` plus ~100 bytes: a third larger. The homeserver measures the
 * whole event with its envelope (auth and prev event ids, hashes, signatures: ≤ 1.5 KB). So 48,000: 46,300 bytes of
 * plaintext at most → 61,870 of base64, + ~500 of clear fields and relation + 1,500 of envelope < 65,536.
 */
export const DEFAULT_MAX_PART_BYTES = 48_000;
/** Below this room for content, splitting would make absurdly many parts: treated as a mistake. */
export const MIN_CONTENT_BYTES = 4_096;
/** How many times a piece that rendered larger than estimated is split again before going plain-text. */
const MAX_RESPLITS = 12;
/** Cuts tried per part while adjusting the estimate to what rendering produced. */
const MAX_ATTEMPTS_PER_PART = 6;
/** The most the estimate budget grows after one measurement. */
const MAX_GROWTH = 4;
/** A fitting part within this factor of the limit is not grown further (ratio room/size < 1.15). */
const FULL_ENOUGH = 1.15;

export const BuildMessageOptionsSchema = z
  .object({
    msgtype: z.enum(["m.text", "m.notice"]).default("m.text"),
    /** Upper bound for JSON.stringify(content) in UTF-8 bytes plus `overheadBytes`. */
    maxEventBytes: z.number().int().positive().max(MATRIX_EVENT_LIMIT_BYTES).default(DEFAULT_MAX_PART_BYTES),
    /** Room kept for what the sender adds (m.relates_to, m.mentions, event envelope). */
    overheadBytes: z.number().int().nonnegative().default(2_000),
    /** Passed to cleanAgentText: longer text is cut and marked as truncated. */
    maxChars: z.number().int().positive().default(DEFAULT_MAX_AGENT_CHARS),
  })
  .refine((o) => o.maxEventBytes - o.overheadBytes >= MIN_CONTENT_BYTES, {
    message: `maxEventBytes - overheadBytes must leave at least ${MIN_CONTENT_BYTES} bytes for content`,
  });

export type BuildMessageOptions = z.input<typeof BuildMessageOptionsSchema>;
type ResolvedOptions = z.output<typeof BuildMessageOptionsSchema>;

/** Bytes the content counts for against `maxEventBytes`: serialized UTF-8 plus the overhead. */
export function contentBytes(content: MessageContent, overheadBytes: number): number {
  return Buffer.byteLength(JSON.stringify(content), "utf8") + overheadBytes;
}

/**
 * Cleans agent text, renders it, and splits it into as many message contents as needed so that every
 * `contentBytes(content, overheadBytes) <= maxEventBytes`. Parts are cut on markdown block boundaries
 * where possible, with code fences closed and reopened across cuts; whitespace at cut points is
 * dropped; no part is empty. Text that is empty after cleaning yields no contents at all. `body` has
 * "@room" neutralized (see mentions.ts); send `mentionsFor(...)` alongside.
 */
export function buildMessageContents(text: string, opts: BuildMessageOptions = {}): MessageContent[] {
  const options = resolveOptions(opts);
  const cleaned = cleanAgentText(text, options.maxChars);
  if (cleaned.trim() === "") return [];
  const whole = wholeMarkdown(cleaned); // trimmed, trailing fence closed
  if (whole === undefined) return [];
  const room = options.maxEventBytes - options.overheadBytes - skeletonBytes(options.msgtype);
  // Most answers fit one message: try that first, as the splitting estimate is deliberately pessimistic
  // (it counts HTML even for text that turns out plain). Skipped when the body alone is too large.
  let firstScale: number | undefined;
  if (Buffer.byteLength(whole, "utf8") <= room) {
    const single = toContent(renderMarkdown(whole), options.msgtype);
    const size = contentBytes(single, options.overheadBytes);
    if (size <= options.maxEventBytes) return [single];
    // It renders larger than the estimate says: start splitting from what it actually took.
    const ratio = (options.maxEventBytes - options.overheadBytes) / (size - options.overheadBytes);
    firstScale = ratio * 0.95;
  }
  return fitParts(whole, room, options, 0, firstScale);
}

/** Options resolved by the schema, by what they say: callers pass a handful of constant sets, each parsed once. */
const resolved = new Map<string, ResolvedOptions>();
const MAX_RESOLVED = 64;

const numberOrAbsent = (n: unknown): boolean => n === undefined || typeof n === "number";

function resolveOptions(opts: BuildMessageOptions): ResolvedOptions {
  const { msgtype, maxEventBytes, overheadBytes, maxChars } = opts;
  if (!numberOrAbsent(maxEventBytes) || !numberOrAbsent(overheadBytes) || !numberOrAbsent(maxChars)
    || !(msgtype === undefined || typeof msgtype === "string")) {
    return BuildMessageOptionsSchema.parse(opts); // not what the types allow: the schema says why, nothing remembered
  }
  const key = `${msgtype}|${maxEventBytes ?? ""}|${overheadBytes ?? ""}|${maxChars ?? ""}`;
  const known = resolved.get(key);
  if (known !== undefined) return known;
  const options = BuildMessageOptionsSchema.parse(opts); // throws for options that are not valid: never remembered
  if (resolved.size >= MAX_RESOLVED) resolved.clear();
  resolved.set(key, Object.freeze(options));
  return options;
}

/** Bytes of a formatted content with empty texts, per message type. */
const skeletons = new Map<MessageType, number>();

function skeletonBytes(msgtype: MessageType): number {
  let bytes = skeletons.get(msgtype);
  if (bytes === undefined) {
    bytes = contentBytes(toContent({ body: "", formatted_body: "" }, msgtype), 0);
    skeletons.set(msgtype, bytes);
  }
  return bytes;
}

/**
 * Cuts `md` into parts that fit, part by part. The cut for a part is chosen with the size estimate
 * scaled by what rendering actually produced: grown when the rendered part came out well under the
 * limit (plain text, whose estimate counts HTML that is then omitted), shrunk when it came out over
 * (autolinks, tables). A single piece that still does not fit is split again, with smaller pieces.
 */
function fitParts(md: string, room: number, options: ResolvedOptions, depth: number, firstScale?: number): MessageContent[] {
  const splitter = new MarkdownSplitter(md, room);
  const contents: MessageContent[] = [];
  // What the whole text or each part learned about the estimate carries on to the next part.
  let budget = firstScale === undefined ? room : Math.min(room, splitter.cost(0, splitter.pieceCount) * firstScale);
  for (let start = 0; start < splitter.pieceCount; ) {
    const fitted = fitOnePart(splitter, start, budget, options);
    if (fitted.content !== undefined) contents.push(fitted.content);
    if (fitted.tooLarge !== undefined) {
      const { text, room: smaller } = fitted.tooLarge;
      contents.push(...(depth < MAX_RESPLITS ? fitParts(text, smaller, options, depth + 1) : plainContents(text, options)));
    }
    if (fitted.budget !== undefined) budget = fitted.budget;
    start = fitted.end;
  }
  return contents;
}

interface FittedPart {
  end: number;
  content?: MessageContent;
  /** The estimate budget that produced `content`. */
  budget?: number;
  /** No cut from `start` fitted: this (smallest tried) part must be split further. */
  tooLarge?: { text: string; room: number };
}

interface Measured {
  text: string;
  content: MessageContent;
  fits: boolean;
  /** Room for content / what this part took: > 1 when it fits with room to spare. */
  ratio: number;
}

/**
 * Finds the largest part from `start` that fits, adjusting the estimate budget by measuring: grown after
 * a part that fits with room to spare, shrunk after one that does not, and bisected between the two
 * once both are known. Each distinct cut is rendered once.
 */
function fitOnePart(splitter: MarkdownSplitter, start: number, initialBudget: number, options: ResolvedOptions): FittedPart {
  const contentRoom = options.maxEventBytes - options.overheadBytes;
  const measured = new Map<number, Measured>();
  let budget = initialBudget;
  let fitBudget = 0;
  let failBudget = Number.POSITIVE_INFINITY;
  let best: FittedPart | undefined;
  let smallestFailure: { end: number; budget: number } | undefined;
  for (let attempt = 0; attempt < MAX_ATTEMPTS_PER_PART; attempt += 1) {
    const end = splitter.chooseEnd(start, budget);
    let m = measured.get(end);
    if (m === undefined) {
      const text = splitter.assemble(start, end);
      if (text === undefined) return { end }; // only whitespace: nothing to send
      const content = toContent(renderMarkdown(text), options.msgtype);
      const size = contentBytes(content, options.overheadBytes);
      m = { text, content, fits: size <= options.maxEventBytes, ratio: contentRoom / (size - options.overheadBytes) };
      measured.set(end, m);
    }
    if (m.fits) {
      fitBudget = Math.max(fitBudget, budget);
      if (best === undefined || end > best.end) best = { end, content: m.content, budget };
      if (end >= splitter.pieceCount || m.ratio < FULL_ENOUGH) break;
    } else {
      failBudget = Math.min(failBudget, budget);
      if (smallestFailure === undefined || end < smallestFailure.end) smallestFailure = { end, budget };
      if (end === start + 1) break;
    }
    let next = m.fits ? budget * Math.min(MAX_GROWTH, m.ratio * 0.97) : budget * m.ratio * 0.9;
    if (next <= fitBudget || next >= failBudget) next = (fitBudget + failBudget) / 2;
    budget = next;
  }
  if (best !== undefined) return best;
  const failure = smallestFailure;
  const m = failure === undefined ? undefined : measured.get(failure.end);
  if (failure === undefined || m === undefined) throw new Error("buildMessageContents: no part was measured"); // unreachable
  const estimate = Math.min(failure.budget, splitter.cost(start, failure.end));
  const room = Math.max(256, Math.floor(estimate * m.ratio * 0.9));
  return { end: failure.end, tooLarge: { text: m.text, room } };
}

/**
 * Last resort for a part that keeps rendering too large: its markdown source as plain text, cut on code
 * point boundaries wherever needed (3 bytes per UTF-16 unit is the most JSON takes for cleaned text).
 */
function plainContents(part: string, options: ResolvedOptions): MessageContent[] {
  const skeleton = contentBytes(toContent({ body: "" }, options.msgtype), options.overheadBytes);
  const unitsPerPart = Math.max(1, Math.floor((options.maxEventBytes - skeleton) / 3) - 8);
  const contents: MessageContent[] = [];
  for (let rest = part; rest.trim() !== ""; ) {
    const chunk = cutAtCodePoint(rest, unitsPerPart) || rest.slice(0, 2);
    rest = rest.slice(chunk.length);
    if (chunk.trim() !== "") contents.push(toContent({ body: chunk }, options.msgtype));
  }
  return contents;
}

function toContent(rendered: { body: string; formatted_body?: string }, msgtype: MessageType): MessageContent {
  const body = neutralizeRoomMentions(rendered.body);
  if (rendered.formatted_body === undefined) return { msgtype, body };
  return { msgtype, body, format: MATRIX_HTML_FORMAT, formatted_body: rendered.formatted_body };
}
