/**
 * Splitting markdown into parts whose estimated message size fits a budget, on the best boundaries
 * available (between blocks, then list items and headings, then lines, then inside code blocks, then
 * inside a line), with every part's code fences balanced: a fence still open at a cut is closed at the
 * end of that part and reopened, with the same marker and info string, at the start of the next.
 */
import { isHighSurrogate, isLowSurrogate } from "./clean";
import {
  type Fence,
  type LineKind,
  type MarkdownLine,
  HARD_INLINE_CUT_WEIGHT,
  ORDINARY_LINE_CUT_WEIGHT,
  SOFT_INLINE_CUT_WEIGHT,
  classifyLines,
  closeLine,
  lineBoundaryWeight,
  looksLikeFenceOpener,
  reopenLine,
} from "./markdown-lines";

/**
 * Estimated bytes per line beyond its characters: `\n` in `body` and in HTML, plus tags such as
 * `<br />` or `<li></li>` for text; code lines carry no tags.
 */
const LINE_COST: Readonly<Record<LineKind, number>> = { text: 16, open: 40, close: 16, code: 6, blank: 6 };
/** Fence markers up to this length are always recognized (CommonMark has no limit; see constructor). */
const MIN_MAX_FENCE_MARKER = 32;
/** How far back (UTF-16 units) to look for a whitespace or a harmless character to cut a long line at. */
const INLINE_CUT_WINDOW = 256;

/**
 * Estimated bytes `text` adds to a serialized message content: its JSON-escaped UTF-8 in `body` plus
 * its HTML-escaped form in `formatted_body`. Markup that renders larger than the text (autolinks,
 * tables) is not covered: callers measure the real content and split again when needed.
 */
export function estimateCost(text: string): number {
  let cost = 0;
  for (let i = 0; i < text.length; i += 1) cost += unitCost(text.charCodeAt(i));
  // A URL is linkified: its text appears twice in HTML (href and text) plus the tag.
  for (let at = text.indexOf("://"); at >= 0; ) {
    let end = at + 3;
    while (end < text.length && !/\s/.test(text.charAt(end))) end += 1;
    cost += end - at + 24;
    at = text.indexOf("://", end);
  }
  return cost;
}

function unitCost(code: number): number {
  if (code >= 0x80) return code < 0x800 || (code >= 0xd800 && code <= 0xdfff) ? 4 : 6;
  switch (code) {
    case 0x22: return 4; // `"`: `\"` in body (HTML text keeps it as is)
    case 0x26: return 6; // `&`: `&amp;`
    case 0x3c: case 0x3e: return 5; // `<` `>`: `&lt;` `&gt;`
    case 0x5c: case 0x0a: case 0x09: return 4; // escaped in JSON twice
    default: return code < 0x20 ? 12 : 2;
  }
}

interface Piece {
  readonly text: string;
  readonly line: MarkdownLine;
  /** What this piece is; differs from its line's kind only for the rest of a cut fence line. */
  readonly kind: LineKind;
  /** True when this piece ends its source line. */
  readonly last: boolean;
  /** For a piece that does not end its line: the cut after it follows whitespace. */
  readonly softCut: boolean;
  readonly cost: number;
}

/** The fence still open after `piece`, if any. */
function fenceAfter(piece: Piece | undefined): Fence | undefined {
  return piece !== undefined && (piece.kind === "open" || piece.kind === "code") ? piece.line.fence : undefined;
}

function toPieces(lines: readonly MarkdownLine[], maxPieceCost: number): Piece[] {
  const pieces: Piece[] = [];
  for (const line of lines) {
    const cost = estimateCost(line.text) + LINE_COST[line.kind];
    if (cost <= maxPieceCost) {
      pieces.push({ text: line.text, line, kind: line.kind, last: true, softCut: false, cost });
    } else if (line.kind === "close" && line.fence !== undefined) {
      // A piece of a closing run shorter than the opening marker would not close: keep that much whole.
      const closing = line.text.slice(0, line.text.indexOf(line.fence.marker[0] ?? "`") + line.fence.marker.length);
      const rest: MarkdownLine = { text: line.text.slice(closing.length), kind: "text", fence: undefined };
      const last = rest.text === "";
      const closingCost = estimateCost(closing) + (last ? LINE_COST.close : 0);
      pieces.push({ text: closing, line, kind: "close", last, softCut: false, cost: closingCost });
      if (!last) pieces.push(...cutLine(rest, maxPieceCost - LINE_COST.text));
    } else {
      pieces.push(...cutLine(line, maxPieceCost - LINE_COST[line.kind]));
    }
  }
  return pieces;
}

const UNSAFE_PART_START = /^(?:[\s`~#>*+\-=|]|\d{1,9}[.)](?:\s|$))/;

/** Cuts one long line into pieces of at most `maxCost` estimated bytes each, on code point boundaries. */
function cutLine(line: MarkdownLine, maxCost: number): Piece[] {
  const pieces: Piece[] = [];
  const text = line.text;
  let start = 0;
  while (start < text.length) {
    let end = start;
    let cost = 0;
    while (end < text.length) {
      const width = isHighSurrogate(text.charCodeAt(end)) && isLowSurrogate(text.charCodeAt(end + 1)) ? 2 : 1;
      const add = unitCost(text.charCodeAt(end)) + (width === 2 ? unitCost(text.charCodeAt(end + 1)) : 0);
      if (cost + add > maxCost && end > start) break;
      cost += add;
      end += width;
    }
    const last = end >= text.length;
    const cut = last ? { at: end, soft: false } : chooseInlineCut(text, start, end);
    const kind = pieceKind(line.kind, start === 0);
    const slice = text.slice(start, cut.at);
    const pieceCost = estimateCost(slice) + (last ? LINE_COST[line.kind] : 0);
    pieces.push({ text: slice, line, kind, last, softCut: cut.soft, cost: pieceCost });
    start = cut.at;
  }
  return pieces;
}

/** The rest of a cut fence opener is code: the fence is open from its first piece on. */
function pieceKind(lineKind: LineKind, first: boolean): LineKind {
  return !first && lineKind === "open" ? "code" : lineKind;
}

/**
 * Where to end a piece of a long line that must end by `end`: preferably right after whitespace, else
 * before a character that cannot start a markdown block (so the next part does not begin with a
 * heading, list or fence marker), else at `end`. Never between the halves of a surrogate pair.
 */
function chooseInlineCut(text: string, start: number, end: number): { at: number; soft: boolean } {
  const lowest = Math.max(start + 1, end - INLINE_CUT_WINDOW, start + Math.floor((end - start) / 2));
  let harmless = -1;
  for (let at = end; at >= lowest; at -= 1) {
    if (isLowSurrogate(text.charCodeAt(at)) && isHighSurrogate(text.charCodeAt(at - 1))) continue;
    if (UNSAFE_PART_START.test(text.slice(at, at + 12))) continue;
    if (/\s/.test(text.charAt(at - 1))) return { at, soft: true };
    if (harmless < 0) harmless = at;
  }
  if (harmless >= 0) return { at: harmless, soft: false };
  return { at: end, soft: false };
}

function boundaryWeight(prev: Piece, next: Piece): number {
  if (!prev.last) return prev.softCut ? SOFT_INLINE_CUT_WEIGHT : HARD_INLINE_CUT_WEIGHT;
  return lineBoundaryWeight(prev.line, next.line);
}

function fenceLineCost(text: string): number {
  return estimateCost(text) + LINE_COST.open;
}

/**
 * Markdown cut into pieces (whole lines, or pieces of lines too long for a part) that parts are made of.
 * Parts never consist of whitespace only; whitespace at cut points is dropped. A part that continues a
 * line starting with a fence-like run gets a backslash before it, so it is not read as a fence.
 */
export class MarkdownSplitter {
  private readonly pieces: readonly Piece[];
  private readonly prefix: readonly number[];
  /** For each piece that opens a fence: the index just past its closing line (or the end). */
  private readonly fenceBlockEnd = new Map<number, number>();

  /**
   * `pieceBudget`: the part budget the pieces are sized for. Long lines are cut into pieces of 1/32 of
   * it; fence markers longer than 1/8 of it (so that reopening and closing could take half a part) are
   * not treated as fences.
   */
  constructor(md: string, pieceBudget: number) {
    const maxMarker = Math.max(MIN_MAX_FENCE_MARKER, Math.floor(pieceBudget / 8));
    this.pieces = toPieces(classifyLines(md, maxMarker), Math.max(64, Math.floor(pieceBudget / 32)));
    const prefix = [0];
    for (const piece of this.pieces) prefix.push((prefix[prefix.length - 1] ?? 0) + piece.cost);
    this.prefix = prefix;
    let opener: number | undefined;
    this.pieces.forEach((piece, i) => {
      if (piece.kind === "open") opener = i;
      if (piece.kind === "close" && opener !== undefined) {
        this.fenceBlockEnd.set(opener, i + 1);
        opener = undefined;
      }
    });
    if (opener !== undefined) this.fenceBlockEnd.set(opener, this.pieces.length);
  }

  get pieceCount(): number {
    return this.pieces.length;
  }

  /** Estimated cost of the part made of pieces [start, end), reopened and closed fence lines included. */
  cost(start: number, end: number): number {
    return this.reopenCost(start) + (this.prefix[end] ?? 0) - (this.prefix[start] ?? 0) + this.closeCost(end);
  }

  /**
   * The end (exclusive) of the best part starting at `start` whose cost is at most `budget`: the whole
   * rest if it fits, else the cut maximizing boundary weight + fill; `start + 1` if even that is too big.
   */
  chooseEnd(start: number, budget: number): number {
    const n = this.pieces.length;
    if (this.cost(start, n) <= budget) return n;
    const startCost = this.reopenCost(start) - (this.prefix[start] ?? 0);
    let end = start + 1;
    let bestScore = Number.NEGATIVE_INFINITY;
    for (let candidate = start + 1; candidate < n; candidate += 1) {
      const withoutClose = startCost + (this.prefix[candidate] ?? 0);
      if (withoutClose > budget) break;
      const cost = withoutClose + this.closeCost(candidate);
      const prev = this.pieces[candidate - 1];
      const next = this.pieces[candidate];
      if (cost > budget || prev === undefined || next === undefined) continue;
      const score = this.boundaryWeight(candidate, prev, next, budget) + cost / budget;
      if (score >= bestScore) {
        bestScore = score;
        end = candidate;
      }
    }
    return end;
  }

  /** The markdown of pieces [start, end) as a self-contained part; undefined when it is only whitespace. */
  assemble(start: number, end: number): string | undefined {
    let content = "";
    for (let i = start; i < end; i += 1) {
      const piece = this.pieces[i];
      if (piece === undefined) continue;
      content += piece.text;
      if (piece.last && i < end - 1) content += "\n";
    }
    content = content.replace(/^(?:[ \t]*\n)+/, "").trimEnd();
    if (content.trim() === "") return undefined;
    const reopen = fenceAfter(this.pieces[start - 1]);
    const continuesLine = this.pieces[start - 1]?.last === false;
    if (reopen === undefined && continuesLine && looksLikeFenceOpener(content)) {
      content = content.replace(/^( {0,3})/, "$1\\");
    }
    const close = fenceAfter(this.pieces[end - 1]);
    return (reopen === undefined ? "" : `${reopenLine(reopen)}\n`) + content + (close === undefined ? "" : `\n${closeLine(close)}`);
  }

  /**
   * Cutting before a code block is only worth a short part when the block then fits one part; a block
   * that must be cut anyway may as well start in this one.
   */
  private boundaryWeight(at: number, prev: Piece, next: Piece, budget: number): number {
    const blockEnd = next.kind === "open" ? this.fenceBlockEnd.get(at) : undefined;
    if (blockEnd !== undefined && this.cost(at, blockEnd) > budget) return ORDINARY_LINE_CUT_WEIGHT;
    return boundaryWeight(prev, next);
  }

  private reopenCost(start: number): number {
    const fence = fenceAfter(this.pieces[start - 1]);
    return fence === undefined ? 0 : fenceLineCost(reopenLine(fence));
  }

  private closeCost(end: number): number {
    const fence = fenceAfter(this.pieces[end - 1]);
    return fence === undefined ? 0 : fenceLineCost(closeLine(fence));
  }
}

/** Splits markdown into parts whose estimated cost is at most `budget` (unless one piece is larger). */
export function splitMarkdown(md: string, budget: number): string[] {
  const splitter = new MarkdownSplitter(md, budget);
  const parts: string[] = [];
  for (let start = 0; start < splitter.pieceCount; ) {
    const end = splitter.chooseEnd(start, budget);
    const part = splitter.assemble(start, end);
    if (part !== undefined) parts.push(part);
    start = end;
  }
  return parts;
}

/**
 * `splitMarkdown(md, Infinity)[0]`: the markdown as one part, trimmed, a trailing fence closed. One line that cannot
 * open a fence (no newline, no backtick or tilde: most short answers) is that line without trailing whitespace; the
 * splitter's pieces are built only for the rest (test/unit/format/whole-markdown.test.ts: a property against the splitter).
 */
export function wholeMarkdown(md: string): string | undefined {
  if (!/[\n`~]/.test(md)) {
    const line = md.trimEnd();
    return line.trim() === "" ? undefined : line;
  }
  return splitMarkdown(md, Number.POSITIVE_INFINITY)[0];
}
