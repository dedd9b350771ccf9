// Attachments as AG-UI 1.0 content parts of a run's messages. A part travels inline (base64 `data` source) when it
// is at most MEDIA_INLINE_MAX_BYTES and the run frame stays within AGENT_MAX_FRAME_BYTES; otherwise as a `url`
// source: the bot's own one-time link (served.ts). So frames stay small, and one large attachment never holds up
// the frames of other threads on the shared WebSocket.
import type { z } from "zod";
import type { ContentPartSchema } from "@ag-ui/core/schemas";
import { partTypeOf, placeholderOf, type PreparedMedia } from "./prepared";

export type ContentPart = z.input<typeof ContentPartSchema>;

export interface MediaPartOptions {
  inlineMaxBytes: number;
  /** A fresh one-time URL for the media. */
  offer(media: PreparedMedia): string;
}

/** Room left in a frame for each URL source (the link's length, with its JSON around it). */
const URL_PART_BYTES = 512;

/** The base64 length of `bytes` bytes. */
export function base64Length(bytes: number): number {
  return 4 * Math.ceil(bytes / 3);
}

/**
 * Which attachments go inline: in order, each small enough and while the frame (`frameBytesWithoutMedia` plus the
 * parts so far) stays within `maxFrameBytes`. The rest go by URL.
 */
export function chooseInline(media: readonly PreparedMedia[], opts: { inlineMaxBytes: number; maxFrameBytes: number; frameBytesWithoutMedia: number }): Set<PreparedMedia> {
  const inline = new Set<PreparedMedia>();
  let frame = opts.frameBytesWithoutMedia + media.length * URL_PART_BYTES;
  for (const m of media) {
    const extra = base64Length(m.size) + m.mimeType.length + 64 - URL_PART_BYTES;
    if (m.size <= opts.inlineMaxBytes && frame + extra <= opts.maxFrameBytes) {
      inline.add(m);
      frame += extra;
    }
  }
  return inline;
}

/** A message's content: its text (the caption), then the attachment as an image, audio, video or document part. */
export function contentWithMedia(text: string, media: PreparedMedia, source: { inline: true } | { inline: false; url: string }): ContentPart[] {
  const metadata = { filename: media.filename, size: media.size, ...(media.voice ? { voice: true } : {}) };
  const part: ContentPart = {
    type: partTypeOf(media.kind),
    source: source.inline ? { type: "data", value: media.bytes.toString("base64"), mimeType: media.mimeType }
      : { type: "url", value: source.url, mimeType: media.mimeType },
    metadata,
  };
  return [...(text.trim() !== "" ? [{ type: "text" as const, text }] : []), part];
}

/** For an agent that reads no attachments (v1): the text and a placeholder. */
export function textWithPlaceholder(text: string, media: PreparedMedia): string {
  return text.trim() === "" ? placeholderOf(media) : `${text}\n${placeholderOf(media)}`;
}
