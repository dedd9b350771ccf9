// An agent's file for the room (AG-UI `CUSTOM` event named `matrix.attachment`, issue 23): validated at the edge
// (a file name, a MIME type, the bytes as base64; never a URL: the bot fetches nothing on the agent's word).
import { z } from "zod";
import { decodeBase64 } from "./attachment";

export const ATTACHMENT_EVENT_NAME = "matrix.attachment";

export interface AgentAttachment {
  filename: string;
  /** What the agent declared; the bytes decide what the file is (src/media/sniff.ts). */
  mimeType: string;
  bytes: Buffer;
}

/** What an agent's attachment event became: the file, or why it cannot be posted (for the log and the user). */
export type AttachmentParse = { ok: true; attachment: AgentAttachment } | { ok: false; problem: string };

const AttachmentValueSchema = z.object({
  mimeType: z.string().trim().min(1).max(255).regex(/^[\w.+-]+\/[\w.+-]+$/, "is not a MIME type"),
  filename: z.string().trim().min(1).max(255),
  data: z.string().min(1),
});

/** Reads a `matrix.attachment` event's `value`; `problem` names what is wrong (never the data). */
export function parseAttachmentValue(value: unknown): AttachmentParse {
  const parsed = AttachmentValueSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, problem: `${issue?.path.join(".") || "value"}: ${issue?.message ?? "malformed"}` };
  }
  const bytes = decodeBase64(parsed.data.data);
  if (bytes === undefined) return { ok: false, problem: "data: is not base64" };
  // eslint-disable-next-line no-control-regex
  const filename = parsed.data.filename.replace(/[\u0000-\u001f\u007f/\\]/g, "_");
  return { ok: true, attachment: { filename, mimeType: parsed.data.mimeType.toLowerCase(), bytes } };
}
