// What the LLM brain makes of a run's attachments (issue 23): an image goes to the model as an image_url data URL
// (LLM_VISION=true); audio and voice messages are transcribed through the endpoint's /audio/transcriptions
// (LLM_TRANSCRIBE_MODEL) and answered as text, the transcript shown folded above the answer; a text file (text/*,
// JSON, CSV, markdown) is read up to LLM_FILE_MAX_CHARS; anything else is declined in words. The history keeps the
// text (transcripts, file text) and "[image: …]", never image bytes.
import type { InputAttachment } from "../agent/protocol-v2";
import type { RunInput } from "../agent/protocol";
import type { AgentCapabilities } from "../agent/protocol-v2";

export interface MediaReading {
  vision: boolean;
  /** Speech to text; absent: audio is declined. */
  transcribe?(bytes: Buffer, filename: string, mimeType: string, signal: AbortSignal): Promise<string>;
  fileMaxChars: number;
  /** Largest attachment fetched from the bot's one-time URL. */
  fetchMaxBytes: number;
}

/** What the run's messages say once their attachments are read. */
export interface ReadMessage {
  /** Appended to the message's caption for the model (and the history): file text, transcripts, placeholders. */
  text: string;
  /** data: URLs of images, for this request only. */
  images: string[];
}

export interface ReadAttachments {
  messages: ReadMessage[];
  /** Shown folded above the answer. */
  transcripts: Array<{ filename: string; text: string }>;
  /** One sentence per attachment not read. */
  declined: string[];
  /** Whether anything is left to answer (a caption, or an attachment read). */
  answerable: boolean;
}

const TEXT_TYPES = /^(text\/.+|application\/(json|[\w.+-]+\+json|csv|x-csv|markdown|x-markdown|x-ndjson|xml|yaml|x-yaml|toml))$/;

export function isTextLike(mimeType: string | undefined): boolean {
  return mimeType !== undefined && TEXT_TYPES.test(mimeType.split(";")[0]?.trim().toLowerCase() ?? "");
}

/** What the LLM brain reads, as AG-UI AgentCapabilities' multimodal.input (pdf and video: never). */
export function llmReads(reading: Pick<MediaReading, "vision" | "transcribe">): NonNullable<NonNullable<AgentCapabilities["multimodal"]>["input"]> {
  return { image: reading.vision, audio: reading.transcribe !== undefined, video: false, pdf: false, file: true };
}

/** "images, voice messages and audio, and text files (text, JSON, CSV, markdown)" as this brain reads them. */
export function readsInWords(reading: Pick<MediaReading, "vision" | "transcribe">): string {
  const kinds = [reading.vision ? "images" : undefined, reading.transcribe ? "voice messages and audio" : undefined,
    "text files (text, JSON, CSV, markdown)"].filter((k): k is string => k !== undefined);
  return kinds.length === 1 ? kinds[0] ?? "" : `${kinds.slice(0, -1).join(", ")}${kinds.length > 2 ? "," : ""} and ${kinds[kinds.length - 1] ?? ""}`;
}

export async function readAttachments(input: RunInput, reading: MediaReading, signal: AbortSignal): Promise<ReadAttachments> {
  const out: ReadAttachments = { messages: [], transcripts: [], declined: [], answerable: false };
  for (const m of input.messages) {
    const attachments = (m["attachments"] ?? []) as InputAttachment[];
    const caption = typeof m["caption"] === "string" ? m["caption"] : attachments.length === 0 ? m.content : "";
    if (caption.trim() !== "") out.answerable = true;
    const read: ReadMessage = { text: caption, images: [] };
    for (const a of attachments) {
      const piece = await readOne(a, reading, signal, read, out);
      if (piece !== undefined) read.text = [read.text, piece].filter((t) => t !== "").join("\n");
    }
    out.messages.push(read);
  }
  return out;
}

async function readOne(a: InputAttachment, reading: MediaReading, signal: AbortSignal, read: ReadMessage, out: ReadAttachments): Promise<string | undefined> {
  const type = a.mimeType ?? "application/octet-stream";
  const wanted = a.label === "image" ? reading.vision : a.label === "audio" || a.label === "voice message" ? reading.transcribe !== undefined
    : a.label === "file" && isTextLike(type);
  if (!wanted) {
    out.declined.push(`I can't read ${a.filename} (${type}): I read ${readsInWords(reading)}.`);
    return a.placeholder;
  }
  const bytes = await bytesOf(a, reading.fetchMaxBytes, signal);
  if (bytes === undefined) {
    out.declined.push(`I couldn't get the bytes of ${a.filename}.`);
    return a.placeholder;
  }
  out.answerable = true;
  if (a.label === "image") {
    read.images.push(`data:${type};base64,${bytes.toString("base64")}`);
    return a.placeholder;
  }
  if (a.label === "file") {
    const text = bytes.toString("utf8").replace(/\n$/, "");
    const cut = [...text].length > reading.fileMaxChars;
    const shown = cut ? [...text].slice(0, reading.fileMaxChars).join("") : text;
    return `[file: ${a.filename} (${type})${cut ? `, first ${reading.fileMaxChars} characters` : ""}]\n\`\`\`\n${shown}\n\`\`\``;
  }
  const transcript = (await reading.transcribe?.(bytes, a.filename, type, signal))?.trim() ?? "";
  out.transcripts.push({ filename: a.filename, text: transcript });
  return `[${a.label}: ${a.filename}, transcribed] ${transcript}`;
}

async function bytesOf(a: InputAttachment, maxBytes: number, signal: AbortSignal): Promise<Buffer | undefined> {
  if (a.source?.type === "data") return Buffer.from(a.source.value, "base64");
  if (a.source?.type !== "url") return undefined;
  try {
    const res = await fetch(a.source.value, { signal });
    if (!res.ok || Number(res.headers.get("content-length") ?? 0) > maxBytes) return undefined;
    const bytes = Buffer.from(await res.arrayBuffer());
    return bytes.length <= maxBytes ? bytes : undefined;
  } catch {
    return undefined;
  }
}

/** The folded transcripts and the declines, in markdown, above the answer. */
export function answerPreface(read: ReadAttachments): string {
  const folds = read.transcripts.map((t) =>
    `<details><summary>Transcript of ${escapeHtml(t.filename)}</summary>\n\n${escapeHtml(t.text === "" ? "(no speech recognised)" : t.text)}\n\n</details>`);
  return [...folds, ...read.declined].map((p) => `${p}\n\n`).join("");
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
