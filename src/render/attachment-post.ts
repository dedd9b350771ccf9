// An agent's file posted into the room (issue 23): uploaded (encrypted first in an encrypted room: the spec's
// EncryptedFile under `file`), then posted as m.image, m.audio, m.video or m.file with `info` (mimetype, size;
// w and h for images), in the run's thread or reply relation, through the outbox under a txnId derived from the
// run and the attachment's place in it. Exactly once across a crash: the outbox records the message (with its mxc)
// before sending it; an attempt after a restart that finds the txnId recorded uploads and posts nothing. A crash
// between the upload and that record leaves an orphaned upload, never a second post.
import { imageSize } from "image-size";
import type { Logger } from "pino";
import { encryptAttachment } from "../media/encrypt";
import type { AgentAttachment, AttachmentParse } from "../media/outgoing";
import { sniffType } from "../media/sniff";
import { formatBytes } from "../media/texts";
import type { UploadResult } from "../media/upload";
import type { RoomMessageSender } from "../matrix/sender";
import { relationFor, type ReplyTarget } from "../turns/reply-content";
import { checkpoint } from "../util/checkpoints";

export interface AttachmentPosting {
  upload(bytes: Buffer, contentType: string, filename: string): Promise<UploadResult>;
  /** Whether the outbox holds a message under this txnId (pending, sent or dead). */
  isRecorded(txnId: string): Promise<boolean>;
  encrypted(roomId: string): Promise<boolean>;
  /** Largest file posted (MEDIA_OUT_MAX_BYTES). */
  maxBytes: number;
}

export const ATTACHMENT_TEXTS = {
  malformed: "⚠️ The agent sent a file I couldn't read, so I did not post it.",
  tooLarge: (limit: string) => `⚠️ The agent sent a file too large to post here: the limit is ${limit}.`,
  failed: "⚠️ The agent sent a file, but I couldn't upload it to the homeserver.",
} as const;

export type AttachmentOutcome = { ok: true; eventId?: string } | { ok: false; userText: string };

/** Posts one attachment of a run; `txnId` names it. Never throws. */
export async function postAttachment(deps: AttachmentPosting & { sender: Pick<RoomMessageSender, "sendEvent">; log: Logger },
  target: ReplyTarget, parsed: AttachmentParse, txnId: string): Promise<AttachmentOutcome> {
  const { log } = deps;
  const roomId = target.roomId;
  if (!parsed.ok) {
    log.warn({ roomId, problem: parsed.problem }, "agent attachment malformed; not posted");
    return { ok: false, userText: ATTACHMENT_TEXTS.malformed };
  }
  const file = parsed.attachment;
  if (file.bytes.length > deps.maxBytes) {
    log.warn({ roomId, size: file.bytes.length, limit: deps.maxBytes }, "agent attachment over MEDIA_OUT_MAX_BYTES; not posted");
    return { ok: false, userText: ATTACHMENT_TEXTS.tooLarge(formatBytes(deps.maxBytes)) };
  }
  try {
    if (await deps.isRecorded(txnId)) {
      log.info({ roomId, txnId }, "agent attachment already recorded by an earlier attempt; not uploaded again");
      return { ok: true };
    }
    const described = await describe(file);
    const encrypted = await deps.encrypted(roomId);
    const sealed = encrypted ? encryptAttachment(file.bytes) : undefined;
    const uploaded = await deps.upload(sealed?.ciphertext ?? file.bytes, sealed ? "application/octet-stream" : described.info.mimetype, file.filename);
    if (!uploaded.ok) {
      log.error({ roomId, detail: uploaded.detail }, "agent attachment upload failed; not posted");
      return { ok: false, userText: uploaded.tooLarge ? ATTACHMENT_TEXTS.tooLarge("the homeserver's") : ATTACHMENT_TEXTS.failed };
    }
    checkpoint("attachment-uploaded");
    const relation = relationFor(target);
    const content = {
      msgtype: described.msgtype, body: file.filename, filename: file.filename, info: described.info,
      ...(sealed ? { file: { ...sealed.file, url: uploaded.mxc } } : { url: uploaded.mxc }),
      "m.mentions": {}, ...(relation ? { "m.relates_to": relation } : {}),
    };
    const sent = await deps.sender.sendEvent(roomId, "m.room.message", content, txnId);
    if (!sent.ok) {
      log.error({ roomId, error: sent.error.describe() }, "could not deliver an agent attachment");
      return { ok: false, userText: ATTACHMENT_TEXTS.failed };
    }
    checkpoint("reply-accepted");
    return { ok: true, eventId: sent.eventId };
  } catch (e) {
    log.error({ roomId, err: String(e) }, "agent attachment could not be posted");
    return { ok: false, userText: ATTACHMENT_TEXTS.failed };
  }
}

type Msgtype = "m.image" | "m.audio" | "m.video" | "m.file";
const MSGTYPES: Record<string, Msgtype> = { image: "m.image", audio: "m.audio", video: "m.video" };

/**
 * What the file is, by its bytes: an image, audio or video only when its bytes prove it; otherwise a file with the
 * agent's MIME type (text/csv, application/json… which bytes cannot tell apart), unless the agent claimed a media
 * type the bytes do not show.
 */
async function describe(file: AgentAttachment): Promise<{ msgtype: Msgtype; info: { mimetype: string; size: number; w?: number; h?: number } }> {
  const sniffed = await sniffType(file.bytes);
  const proven = sniffed.mimeType !== "text/plain" && sniffed.mimeType !== "application/octet-stream";
  const declaredTop = file.mimeType.split("/")[0] ?? "";
  const mimetype = proven ? sniffed.mimeType
    : ["image", "audio", "video"].includes(declaredTop) ? sniffed.mimeType : file.mimeType;
  const msgtype = proven ? MSGTYPES[sniffed.kind] ?? "m.file" : "m.file";
  const info: { mimetype: string; size: number; w?: number; h?: number } = { mimetype, size: file.bytes.length };
  if (msgtype === "m.image") {
    try {
      const { width, height } = imageSize(file.bytes);
      if (width !== undefined && height !== undefined) Object.assign(info, { w: width, h: height });
    } catch {
      // dimensions unknown: info without w/h
    }
  }
  return { msgtype, info };
}
