// What the user reads about an attachment the bot did not pass on. runbook/troubleshooting.md quotes each text
// (its variable parts as <…>); test/unit/media/texts.test.ts keeps the two in step.
import type { MediaKind } from "./sniff";

const KIND_LABELS: Record<MediaKind, string> = { image: "images", audio: "audio", video: "videos", pdf: "PDFs", file: "files" };

export const MEDIA_TEXTS = {
  malformed: "⚠️ I couldn't read that attachment: its message is malformed.",
  tooLarge: (limit: string) => `⚠️ That file is too large for me: the limit is ${limit}.`,
  notFound: "⚠️ I couldn't download that attachment: the homeserver doesn't have it (any more).",
  failed: "⚠️ I couldn't download that attachment. Please send it again in a minute.",
  integrity: "⚠️ That encrypted attachment failed its integrity check (it was altered or damaged), so I did not read it.",
  notRead: (what: string, reads: string) => `I can't pass ${what} on: this agent reads ${reads}.`,
} as const;

/** "images", "voice messages", … as the user would name what they sent. */
export function kindLabel(kind: MediaKind, voice = false): string {
  return voice ? "voice messages" : KIND_LABELS[kind];
}

/** "only text", "text and images", "text, images and PDFs". */
export function readsLabel(kinds: readonly MediaKind[]): string {
  if (kinds.length === 0) return "only text";
  const names = ["text", ...kinds.map((k) => KIND_LABELS[k])];
  return `${names.slice(0, -1).join(", ")} and ${names[names.length - 1] ?? ""}`;
}

/** 20971520 → "20 MB" (binary units, as Matrix clients show sizes). */
export function formatBytes(bytes: number): string {
  const units = ["bytes", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const shown = unit === 0 || Number.isInteger(value) ? String(value) : value.toFixed(1);
  return `${shown} ${units[unit] ?? ""}`;
}
