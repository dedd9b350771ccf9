/**
 * A line-level view of markdown: which lines open, continue or close a fenced code block, and how good
 * a place each line boundary is to cut a long message. Only top-level fences (indented 0–3 spaces, as in
 * CommonMark) are recognized; fences inside blockquotes are not. A fence marker too long to be repeated
 * at every cut (longer than `maxMarker`, see the splitter) is treated as text: such absurd input is
 * still kept within limits, but its fences may come out unbalanced.
 */

export interface Fence {
  readonly indent: string;
  /** e.g. "```" or "~~~~" */
  readonly marker: string;
  /** Everything after the marker on the opening line, e.g. "ts title=x". */
  readonly info: string;
}

export type LineKind = "blank" | "text" | "open" | "code" | "close";

export interface MarkdownLine {
  readonly text: string;
  readonly kind: LineKind;
  /** For open/code/close lines: the fence they belong to. */
  readonly fence: Fence | undefined;
}

/** Info strings longer than this are not repeated when a fence is reopened (only their first word). */
export const MAX_REOPEN_INFO = 64;

const FENCE_OPEN = /^( {0,3})(`{3,}|~{3,})(.*)$/;
const FENCE_CLOSE = /^ {0,3}(`{3,}|~{3,})[ \t]*$/;
const BLANK = /^[ \t]*$/;

export function classifyLines(md: string, maxMarker: number = Number.POSITIVE_INFINITY): MarkdownLine[] {
  const lines: MarkdownLine[] = [];
  let open: Fence | undefined;
  for (const text of md.split("\n")) {
    if (open !== undefined) {
      const close = FENCE_CLOSE.exec(text);
      const marker = close?.[1];
      if (marker !== undefined && marker[0] === open.marker[0] && marker.length >= open.marker.length) {
        // Trailing whitespace dropped: a closing line is then short (absurd markers aside).
        lines.push({ text: text.trimEnd(), kind: "close", fence: open });
        open = undefined;
      } else {
        lines.push({ text, kind: "code", fence: open });
      }
      continue;
    }
    const fence = parseFenceOpener(text, maxMarker);
    if (fence !== undefined) {
      open = fence;
      lines.push({ text, kind: "open", fence });
    } else {
      lines.push({ text, kind: BLANK.test(text) ? "blank" : "text", fence: undefined });
    }
  }
  return lines;
}

export function parseFenceOpener(text: string, maxMarker: number = Number.POSITIVE_INFINITY): Fence | undefined {
  const match = FENCE_OPEN.exec(text);
  if (match === null) return undefined;
  const [, indent = "", marker = "", info = ""] = match;
  if (marker.length > maxMarker) return undefined;
  if (marker.startsWith("`") && info.includes("`")) return undefined;
  return { indent, marker, info };
}

/** The line that reopens `fence` at the start of a later part. */
export function reopenLine(fence: Fence): string {
  let info = fence.info;
  if (info.length > MAX_REOPEN_INFO) {
    const firstWord = info.trim().split(/\s+/)[0] ?? "";
    info = firstWord.length <= MAX_REOPEN_INFO ? firstWord : "";
  }
  return fence.indent + fence.marker + info;
}

/** The line that closes `fence` at the end of a part. */
export function closeLine(fence: Fence): string {
  return fence.indent + fence.marker;
}

/** True when `text`, as the first line of a part outside a fence, would be read as a fence opener. */
export function looksLikeFenceOpener(text: string): boolean {
  return /^ {0,3}(?:`{3}|~{3})/.test(text);
}

const HEADING = /^ {0,3}#{1,6}(?:[ \t]|$)/;
const LIST_ITEM = /^[ \t]*(?:[-+*]|\d{1,9}[.)])(?:[ \t]|$)/;
const BLOCKQUOTE = /^ {0,3}>/;
const SETEXT_OR_RULE = /^ {0,3}(?:=+|-+)[ \t]*$/;
const TABLE_DELIMITER = /^[ \t]*\|?[ \t]*:?-+:?[ \t]*\|/;

/**
 * How good the boundary between two whole lines is as a cut point (higher is better). The splitter
 * adds how full the part would be (0..1), so a block boundary (3) beats cutting inside a code block
 * (≤ 1.6) wherever it is, while a cut between the lines of a paragraph (2.2) beats a block boundary
 * that would leave the part less than about 80 % full.
 */
export function lineBoundaryWeight(prev: MarkdownLine, next: MarkdownLine): number {
  if (prev.kind === "open" || prev.kind === "code") {
    if (prev.kind === "open" || next.kind === "close") return 0.2; // would leave an empty code block
    return BLANK.test(prev.text) ? 1.6 : 1.5;
  }
  if (prev.kind === "blank" || prev.kind === "close" || next.kind === "blank" || next.kind === "open") return 3;
  if (SETEXT_OR_RULE.test(next.text) || TABLE_DELIMITER.test(next.text)) return 0.9; // heading underline, table
  if (HEADING.test(next.text) || LIST_ITEM.test(next.text) || BLOCKQUOTE.test(next.text)) return 2.6;
  if (/^[ \t]/.test(next.text)) return 2.0; // continuation of a list item
  return ORDINARY_LINE_CUT_WEIGHT;
}

/** Between two lines of a paragraph. */
export const ORDINARY_LINE_CUT_WEIGHT = 2.2;

/** Weights of cuts inside one line: after whitespace, or anywhere on a code point boundary. */
export const SOFT_INLINE_CUT_WEIGHT = 0.8;
export const HARD_INLINE_CUT_WEIGHT = 0.5;
