// How an agent message's work (work.ts) reads in the room, above its text: one compact status line of its tool
// calls and steps (`🔧 search_docs…`, `✓ search_docs`, `✗ search_docs: <short reason>`), and where the room asked
// for details (/details on) the arguments and result of each call and a "Thinking" part, each folded in
// <details>. Built as HTML directly (markdown would show raw HTML as text), every agent string cleaned
// (cleanAgentText), escaped, cut to its limit, and the whole passed through the Matrix sanitizer; the plain `body`
// says the same in words for clients without HTML.
import { cleanAgentText, MATRIX_HTML_FORMAT, neutralizeRoomMentions, sanitizeMatrixHtml, type MessageContent } from "../matrix/format";
import type { Work, WorkItem } from "./work";

/** What a room shows of the agent's work (room settings /toollines and /details). */
export interface WorkVisibility {
  /** The status line stays in the finished message (it is shown while the work runs either way). */
  toolLines: boolean;
  /** Arguments, results and the thinking part, folded. */
  details: boolean;
}

export const DEFAULT_WORK_VISIBILITY: WorkVisibility = { toolLines: true, details: false };

export interface WorkView {
  body: string;
  html: string;
}

/** Bounds of what is shown (characters): the view of one message stays a few kilobytes whatever the agent sends. */
export const WORK_VIEW_LIMITS = {
  /** Entries of the status line (the latest; earlier ones are counted). */
  lineEntries: 8,
  name: 48,
  reason: 80,
  args: 400,
  result: 800,
  thinking: 2_000,
  /** Tool calls whose arguments and result are shown (the first ones). */
  detailedCalls: 5,
  /** Bytes of body and HTML together (as JSON): folds that would go beyond are left out, and said so. */
  viewBytes: 16_000,
} as const;

const TRUNCATED = "… (truncated)";

/** An agent string as shown: cleaned, cut to `max` characters (marked: "…" on one line), optionally on one line. */
function shown(text: string, max: number, oneLine = false): string {
  const cleaned = cleanAgentText(oneLine ? text.replace(/\s+/g, " ").trim() : text.trim(), max + TRUNCATED.length + 1);
  if (cleaned.length <= max) return cleaned;
  return `${cleaned.slice(0, max).trimEnd()}${oneLine ? "…" : TRUNCATED}`;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** One entry of the status line. */
function label(item: WorkItem): string {
  const name = shown(item.name, WORK_VIEW_LIMITS.name, true) || "tool";
  switch (item.state) {
    case "running": return `${item.kind === "tool" ? "🔧" : "⏳"} ${name}…`;
    case "done": return `✓ ${name}`;
    case "failed": {
      const reason = shown(item.reason ?? "", WORK_VIEW_LIMITS.reason, true);
      return `✗ ${name}: ${reason === "" ? "failed" : reason}`;
    }
  }
}

/** The status line: consecutive equal entries merged (`✓ search ×3`), the latest entries, earlier ones counted. */
export function statusLine(work: Work): string | undefined {
  const entries: Array<{ text: string; count: number }> = [];
  for (const item of work.items) {
    const text = label(item);
    const last = entries[entries.length - 1];
    if (last?.text === text) last.count += 1;
    else entries.push({ text, count: 1 });
  }
  const parts = entries.map((e) => (e.count > 1 ? `${e.text} ×${e.count}` : e.text));
  const kept = parts.slice(-WORK_VIEW_LIMITS.lineEntries);
  const earlier = parts.length - kept.length + work.dropped;
  if (kept.length === 0) return undefined;
  return [...(earlier > 0 ? [`… ${earlier} earlier`] : []), ...kept].join(" · ");
}

/** Tool arguments as written, JSON pretty-printed when they are JSON. */
function argumentsText(args: string): string {
  try {
    return JSON.stringify(JSON.parse(args), null, 2);
  } catch {
    return args;
  }
}

interface Fold {
  summary: string;
  /** Labelled blocks of preformatted text, or one quoted text. */
  blocks: Array<{ title?: string; text: string; pre: boolean }>;
}

function folds(work: Work): Fold[] {
  const out: Fold[] = [];
  if (work.reasoning.trim() !== "") {
    out.push({ summary: "💭 Thinking", blocks: [{ text: shown(work.reasoning, WORK_VIEW_LIMITS.thinking), pre: false }] });
  }
  const calls = work.items.filter((i) => i.kind === "tool");
  for (const call of calls.slice(0, WORK_VIEW_LIMITS.detailedCalls)) {
    const blocks: Fold["blocks"] = [];
    if (call.args.trim() !== "") blocks.push({ title: "Arguments", text: shown(argumentsText(call.args), WORK_VIEW_LIMITS.args), pre: true });
    if (call.result !== undefined && call.result.trim() !== "") {
      blocks.push({ title: "Result", text: shown(call.result, WORK_VIEW_LIMITS.result), pre: true });
    }
    if (blocks.length > 0) out.push({ summary: label(call), blocks });
  }
  const more = calls.length - WORK_VIEW_LIMITS.detailedCalls;
  if (more > 0) out.push({ summary: `${more} more tool call${more === 1 ? "" : "s"}`, blocks: [] });
  return out;
}

function foldHtml(fold: Fold): string {
  const inner = fold.blocks.map((b) => {
    const text = escapeHtml(b.text);
    const body = b.pre ? `<pre><code>${text}</code></pre>` : `<blockquote>${text.replace(/\n/g, "<br />")}</blockquote>`;
    return `${b.title !== undefined ? `<p>${escapeHtml(b.title)}</p>` : ""}${body}`;
  }).join("");
  return `<details><summary>${escapeHtml(fold.summary)}</summary>${inner}</details>`;
}

function foldBody(fold: Fold): string {
  const lines = [fold.summary];
  for (const b of fold.blocks) {
    const quoted = b.text.split("\n").map((l) => `  ${l}`).join("\n");
    lines.push(b.title !== undefined ? `  ${b.title}:\n${quoted}` : quoted);
  }
  return lines.join("\n");
}

function jsonBytes(text: string): number {
  return Buffer.byteLength(JSON.stringify(text), "utf8");
}

/** What the room sees of `work` (details: the folds too, within `viewBytes`); undefined when that is nothing. */
export function workView(work: Work, details: boolean): WorkView | undefined {
  const line = statusLine(work);
  const body: string[] = line !== undefined ? [line] : [];
  const html: string[] = line !== undefined ? [`<p>${escapeHtml(line)}</p>`] : [];
  let bytes = jsonBytes(body.join("")) + jsonBytes(html.join(""));
  const parts = details ? folds(work) : [];
  for (const [i, fold] of parts.entries()) {
    const b = foldBody(fold);
    const h = sanitizeMatrixHtml(foldHtml(fold));
    if (bytes + jsonBytes(b) + jsonBytes(h) > WORK_VIEW_LIMITS.viewBytes - 200) {
      const cut = `${parts.length - i} more detail${parts.length - i === 1 ? "" : "s"} left out (too long)`;
      body.push(cut);
      html.push(`<p>${cut}</p>`);
      break;
    }
    bytes += jsonBytes(b) + jsonBytes(h);
    body.push(b);
    html.push(h);
  }
  if (body.length === 0) return undefined;
  return { body: body.join("\n\n"), html: sanitizeMatrixHtml(html.join("\n")) };
}

/** A key that changes whenever the view does (to skip edits that would show nothing new). */
export function viewKey(view: WorkView | undefined): string {
  return view === undefined ? "" : `${view.body}\u0000${view.html}`;
}

/** Plain text as the HTML markdown renders it to (paragraphs, line breaks), for a message that gains HTML. */
function plainHtml(body: string): string {
  return body.split(/\n{2,}/).map((p) => `<p>${escapeHtml(p).replace(/\n/g, "<br />\n")}</p>`).join("\n");
}

/** A message's content with its work view above its text (`part` undefined: the view alone). */
export function withWork(part: MessageContent | undefined, view: WorkView, msgtype: MessageContent["msgtype"]): MessageContent {
  const body = neutralizeRoomMentions(view.body);
  if (part === undefined) return { msgtype, body, format: MATRIX_HTML_FORMAT, formatted_body: view.html };
  return {
    ...part,
    body: `${body}\n\n${part.body}`,
    format: MATRIX_HTML_FORMAT,
    formatted_body: `${view.html}\n${part.formatted_body ?? plainHtml(part.body)}`,
  };
}
