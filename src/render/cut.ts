// Where a live message that outgrew one event is frozen: the best line boundary (a block boundary first, as
// src/matrix/format/split.ts weighs them) whose head still fits, a code block cut there closed in the head and
// reopened in the rest; a single line too long for any event is cut at a space. The rest continues in a new message.
import { classifyLines, closeLine, lineBoundaryWeight, ORDINARY_LINE_CUT_WEIGHT, reopenLine } from "../matrix/format/markdown-lines";

export interface Cut {
  /** The frozen head's markdown (a code block open at the cut is closed). */
  head: string;
  /** Where the rest starts in the text that was cut. */
  restAt: number;
  /** What the rest's markdown starts with: the code block reopened, or "". */
  restLead: string;
}

/** How far back from the longest fitting piece of a line to look for a space to cut at. */
const INLINE_CUT_WINDOW = 256;

/**
 * Cuts `text` (which does not fit) after the best boundary whose head `fits`: a boundary weighs what it is
 * (between blocks 3, between lines of a paragraph 2.2, inside a code block ≤ 1.6) plus how full the head is,
 * so a block boundary wins unless it leaves the head less than about 80 % of what fits. Undefined when not
 * even one character fits (then nothing can be sent).
 */
export function cutToFit(text: string, fits: (markdown: string) => boolean, maxHeadChars = Number.POSITIVE_INFINITY): Cut | undefined {
  const raw = text.split("\n");
  const lines = classifyLines(text);
  const offsets: number[] = [0];
  for (const line of raw) offsets.push((offsets[offsets.length - 1] ?? 0) + line.length + 1);
  const cutAt = (i: number): Cut => {
    const prev = lines[i - 1];
    const fence = prev !== undefined && (prev.kind === "open" || prev.kind === "code") ? prev.fence : undefined;
    const head = raw.slice(0, i).join("\n");
    return fence === undefined ? { head: head.replace(/\n+$/, ""), restAt: offsets[i] ?? text.length, restLead: "" }
      : { head: `${head}\n${closeLine(fence)}`, restAt: offsets[i] ?? text.length, restLead: `${reopenLine(fence)}\n` };
  };
  const visible = (i: number): boolean => raw.slice(0, i).some((l) => l.trim() !== "");
  // The last boundary whose head fits (heads only grow with i): binary search, from below `maxHeadChars` (a head
  // longer than that cannot fit: every character takes at least a byte).
  let lo = 0;
  let hi = raw.length - 1;
  while (hi > 0 && (offsets[hi] ?? 0) > maxHeadChars) hi -= 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(cutAt(mid).head)) lo = mid;
    else hi = mid - 1;
  }
  if (lo >= 1 && visible(lo)) {
    let best = lo;
    let bestScore = Number.NEGATIVE_INFINITY;
    const full = offsets[lo] ?? 1;
    for (let i = 1; i <= lo; i += 1) {
      const prev = lines[i - 1];
      const next = lines[i];
      if (prev === undefined || next === undefined || !visible(i)) continue;
      // Cutting before a code block (blank lines between included) is only worth a short head when the block then
      // fits a message of its own.
      let opener = i;
      while (lines[opener]?.kind === "blank") opener += 1;
      const blockTooLong = lines[opener]?.kind === "open" && blockLength(lines, offsets, opener) > full;
      const score = (blockTooLong ? ORDINARY_LINE_CUT_WEIGHT : lineBoundaryWeight(prev, next)) + (offsets[i] ?? 0) / full;
      if (score >= bestScore) {
        bestScore = score;
        best = i;
      }
    }
    return cutAt(best);
  }
  return cutInsideLine(raw[0] ?? "", fits, maxHeadChars);
}

/** Characters of the code block opening at line `start`, up to its closing line (or the end of the text). */
function blockLength(lines: ReturnType<typeof classifyLines>, offsets: readonly number[], start: number): number {
  let end = start + 1;
  while (end < lines.length && lines[end]?.kind === "code") end += 1;
  return (offsets[Math.min(end + 1, lines.length)] ?? 0) - (offsets[start] ?? 0);
}

/** The first line alone does not fit: its longest fitting start, ended after a space where there is one. */
function cutInsideLine(line: string, fits: (markdown: string) => boolean, maxHeadChars: number): Cut | undefined {
  let lo = 0;
  let hi = Math.min(line.length, maxHeadChars);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(line.slice(0, mid))) lo = mid;
    else hi = mid - 1;
  }
  if (lo === 0) return undefined;
  let at = lo;
  if (/[\uD800-\uDBFF]/.test(line.charAt(at - 1))) at -= 1; // never between the halves of a surrogate pair
  for (let i = at; i > Math.max(0, at - INLINE_CUT_WINDOW); i -= 1) {
    if (/\s/.test(line.charAt(i - 1))) {
      at = i;
      break;
    }
  }
  return at > 0 ? { head: line.slice(0, at), restAt: at, restLead: "" } : undefined;
}
