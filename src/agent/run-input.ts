// The run frame a bot-started run sends: v1 as it is (an attachment becomes a placeholder in the text), v2 as an
// AG-UI RunAgentInput whose messages carry attachments as content parts (src/media/parts.ts decides inline or URL).
import { chooseInline, contentWithMedia, textWithPlaceholder, type MediaPartOptions } from "../media/parts";
import { PreparedMedia } from "../media/prepared";
import type { RunFrame, RunInput } from "./protocol";
import { toRunAgentInput } from "./protocol-v2";

type InputMessage = RunInput["messages"][number];

function mediaOf(message: InputMessage): PreparedMedia | undefined {
  const media = message["media"];
  return media instanceof PreparedMedia ? media : undefined;
}

/** A v1 run frame: attachments as "[image: cat.png]" in the text, never their bytes. */
export function v1Frame(frame: RunFrame): RunFrame {
  if (!frame.input.messages.some((m) => mediaOf(m))) return frame;
  const messages = frame.input.messages.map((m) => {
    const media = mediaOf(m);
    if (!media) return m;
    const { media: _media, ...rest } = m;
    return { ...rest, content: textWithPlaceholder(m.content, media) };
  });
  return { ...frame, input: { ...frame.input, messages } };
}

/** A v2 run frame; without `media` options attachments become placeholders as for v1. */
export function runFrameV2(threadId: string, runId: string, input: RunInput, maxFrameBytes: number, media: MediaPartOptions | undefined) {
  const frame = (content: (m: InputMessage) => ReturnType<typeof contentWithMedia> | string) =>
    ({ op: "run" as const, threadId, runId, input: toRunAgentInput(threadId, runId, input, content) });
  const attachments = input.messages.flatMap((m) => mediaOf(m) ?? []);
  if (attachments.length === 0) return frame((m) => m.content);
  if (!media) return frame((m) => { const a = mediaOf(m); return a ? textWithPlaceholder(m.content, a) : m.content; });
  const withoutMedia = JSON.stringify(frame((m) => m.content)).length;
  const inline = chooseInline(attachments, { inlineMaxBytes: media.inlineMaxBytes, maxFrameBytes, frameBytesWithoutMedia: withoutMedia });
  return frame((m) => {
    const a = mediaOf(m);
    if (!a) return m.content;
    return contentWithMedia(m.content, a, inline.has(a) ? { inline: true } : { inline: false, url: media.offer(a) });
  });
}
