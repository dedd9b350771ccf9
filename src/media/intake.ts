// A media message becomes an attachment for the agent, or a notice for the user: the agent the room's turn goes to
// must read its kind (AG-UI capabilities from the v2 `ready` or the agents file; v1 agents read text only), its declared size must be within
// MEDIA_MAX_BYTES, the download reserves its share of MEDIA_MAX_INFLIGHT_BYTES and stops at the limit, an
// encrypted file is checked (SHA-256) and decrypted, and the type is read from the bytes.
import type { Logger } from "pino";
import type { AgentCapabilities } from "../agent/protocol-v2";
import type { MediaRef } from "./attachment";
import type { ByteBudget } from "./budget";
import type { DownloadResult, MediaDownloader } from "./download";
import { decryptAttachment } from "./encrypted-file";
import { PreparedMedia } from "./prepared";
import { kindOf, sniffType, type MediaKind } from "./sniff";
import { MEDIA_TEXTS, formatBytes, kindLabel, readsLabel } from "./texts";

export interface MediaIntakeDeps {
  downloader: Pick<MediaDownloader, "download">;
  budget: ByteBudget;
  maxBytes: number;
  log: Logger;
  /** What the agent of the room declared; undefined for a v1 agent (text only). */
  capabilities: (roomId: string) => AgentCapabilities | undefined | Promise<AgentCapabilities | undefined>;
}

export type MediaOutcome =
  | { ok: true; media: PreparedMedia }
  | { ok: false; notice: string; reason: string };

const ALL_KINDS: readonly MediaKind[] = ["image", "audio", "video", "pdf", "file"];

export class MediaIntake {
  constructor(private readonly deps: MediaIntakeDeps) {}

  /** The kinds the room's agent reads now. */
  async readableKinds(roomId: string): Promise<MediaKind[]> {
    const input = (await this.deps.capabilities(roomId))?.multimodal?.input;
    return ALL_KINDS.filter((k) => input?.[k] === true);
  }

  /** Whether a message of this kind would be read in the room (before anything is downloaded). */
  async wouldRead(ref: MediaRef, roomId: string): Promise<boolean> {
    return (await this.readableKinds(roomId)).includes(hintedKind(ref));
  }

  async prepare(ref: MediaRef, where: { roomId: string; eventId: string }, signal?: AbortSignal): Promise<MediaOutcome> {
    const { maxBytes, log } = this.deps;
    const refuse = (notice: string, reason: string, level: "info" | "warn" = "info"): MediaOutcome => {
      log[level]({ ...where, reason, msgtype: ref.msgtype }, "attachment not passed to the agent");
      return { ok: false, notice, reason };
    };
    const readable = await this.readableKinds(where.roomId);
    const unreadable = (kind: MediaKind): MediaOutcome =>
      refuse(MEDIA_TEXTS.notRead(kindLabel(kind, ref.voice), readsLabel(readable)), `the agent does not read ${kind}`);
    if (!readable.includes(hintedKind(ref))) return unreadable(hintedKind(ref));
    if (ref.declaredSize !== undefined && ref.declaredSize > maxBytes) return refuse(MEDIA_TEXTS.tooLarge(formatBytes(maxBytes)), "declared too large");

    const reservation = await this.deps.budget.reserve(ref.declaredSize ?? maxBytes, signal);
    if (!reservation) return refuse(MEDIA_TEXTS.failed, "stopped while waiting for memory");
    let kept = false;
    try {
      // A file larger than its declared size is not read past that size: the reservation covers only that much.
      const limit = Math.min(maxBytes, ref.declaredSize ?? maxBytes);
      const downloaded: DownloadResult = await this.deps.downloader.download(ref.source.mxc, limit, signal);
      if (!downloaded.ok) {
        if (downloaded.reason === "over_limit" && limit < maxBytes) return refuse(MEDIA_TEXTS.malformed, `larger than its declared size: ${downloaded.detail}`, "warn");
        if (downloaded.reason === "over_limit" || downloaded.reason === "too_large") return refuse(MEDIA_TEXTS.tooLarge(formatBytes(maxBytes)), `too large: ${downloaded.detail}`);
        if (downloaded.reason === "not_found") return refuse(MEDIA_TEXTS.notFound, `not found: ${downloaded.detail}`, "warn");
        return refuse(MEDIA_TEXTS.failed, `download failed: ${downloaded.detail}`, "warn");
      }
      let bytes = downloaded.bytes;
      if (ref.source.kind === "encrypted") {
        const clear = decryptAttachment(bytes, ref.source.file);
        if (!clear.ok) return refuse(MEDIA_TEXTS.integrity, "encrypted attachment: SHA-256 mismatch", "warn");
        bytes = clear.bytes;
      }
      reservation.shrink(bytes.length);
      const type = await sniffType(bytes);
      if (!readable.includes(type.kind)) return unreadable(type.kind);
      const media = new PreparedMedia(bytes, type.mimeType, type.kind, ref.filename, ref.voice);
      media.onRelease(() => reservation.release());
      kept = true;
      log.info({ ...where, kind: type.kind, mimeType: type.mimeType, declaredMime: ref.declaredMime, size: bytes.length,
        encrypted: ref.source.kind === "encrypted" }, "attachment downloaded for the agent");
      return { ok: true, media };
    } finally {
      if (!kept) reservation.release();
    }
  }
}

/** The kind a message claims before its bytes are read: its msgtype, or for m.file the declared type. */
export function hintedKind(ref: MediaRef): MediaKind {
  switch (ref.msgtype) {
    case "m.image":
      return "image";
    case "m.audio":
      return "audio";
    case "m.video":
      return "video";
    case "m.file":
      return ref.declaredMime === "application/pdf" ? "pdf" : ref.declaredMime !== undefined && kindOf(ref.declaredMime) !== "file" ? kindOf(ref.declaredMime) : "file";
  }
}
