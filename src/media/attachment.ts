// What a media message (m.image, m.file, m.audio, m.video) points at, validated at the edge: the mxc URI or the
// encrypted file (key, iv, hashes), what the sender's client declared (mimetype, size), the file name and the
// caption (MSC2530: a `body` that differs from `filename` is a caption). A malformed `url`, `file` or `info` fails
// this event only.
import { z } from "zod";
import type { RoomEvent } from "../matrix/events";

export const MEDIA_MSGTYPES = ["m.image", "m.file", "m.audio", "m.video"] as const;
export type MediaMsgtype = (typeof MEDIA_MSGTYPES)[number];

export function isMediaMsgtype(value: unknown): value is MediaMsgtype {
  return typeof value === "string" && (MEDIA_MSGTYPES as readonly string[]).includes(value);
}

/** `mxc://<server-name>/<media-id>`; the media id is `[A-Za-z0-9_-]+` (spec), the server name a host[:port]. */
export interface MxcUri {
  serverName: string;
  mediaId: string;
}

const MXC_RE = /^mxc:\/\/([A-Za-z0-9.:[\]-]{1,255})\/([A-Za-z0-9_-]{1,255})$/;

export function parseMxc(uri: string): MxcUri | undefined {
  const match = MXC_RE.exec(uri);
  return match?.[1] && match[2] ? { serverName: match[1], mediaId: match[2] } : undefined;
}

/** Standard or URL-safe base64, padded or not (the spec sends unpadded); undefined when it is not base64. */
export function decodeBase64(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(text) || text.replace(/=+$/, "").length % 4 === 1) return undefined;
  return Buffer.from(text.replace(/-/g, "+").replace(/_/g, "/"), "base64");
}

const mxc = z.string().transform((v, ctx) => parseMxc(v) ?? (ctx.addIssue({ code: "custom", message: "is not an mxc:// URI" }), z.NEVER));
const bytes = (length: number, what: string) => z.string().transform((v, ctx) => {
  const decoded = decodeBase64(v);
  if (decoded?.length === length) return decoded;
  ctx.addIssue({ code: "custom", message: `${what} is not ${length} bytes of base64` });
  return z.NEVER;
});

/** The spec's EncryptedFile: AES-256-CTR key as a JWK, 16-byte counter block, SHA-256 of the ciphertext, v2. */
export const EncryptedFileSchema = z.object({
  url: mxc,
  key: z.looseObject({
    kty: z.literal("oct"),
    alg: z.literal("A256CTR"),
    key_ops: z.array(z.string()).refine((ops) => ops.includes("decrypt"), "key_ops must include decrypt"),
    k: bytes(32, "the key"),
    ext: z.literal(true),
  }),
  iv: bytes(16, "the iv"),
  hashes: z.looseObject({ sha256: bytes(32, "the sha256 hash") }),
  v: z.literal("v2"),
});
export type EncryptedFileInfo = z.infer<typeof EncryptedFileSchema>;

/** What the sender's client declared; values of the wrong type count as not declared (the bytes decide anyway). */
const InfoSchema = z.looseObject({
  mimetype: z.string().max(255).optional().catch(undefined),
  size: z.number().int().nonnegative().optional().catch(undefined),
});

const MediaContentSchema = z.looseObject({
  msgtype: z.enum(MEDIA_MSGTYPES),
  body: z.string().optional(),
  filename: z.string().optional(),
  url: mxc.optional(),
  file: EncryptedFileSchema.optional(),
  info: InfoSchema.optional(),
});

export interface MediaRef {
  msgtype: MediaMsgtype;
  /** MSC3245: an m.audio sent as a voice message. */
  voice: boolean;
  /** Where the bytes are: the plain mxc, or the encrypted file's. */
  source: { kind: "plain"; mxc: MxcUri } | { kind: "encrypted"; mxc: MxcUri; file: EncryptedFileInfo };
  filename: string;
  /** MSC2530: the text written beside the file, if any. */
  caption?: string;
  declaredMime?: string;
  declaredSize?: number;
}

export type MediaRefResult = { ok: true; ref: MediaRef } | { ok: false; problem: string };

const FALLBACK_NAMES: Record<MediaMsgtype, string> = { "m.image": "image", "m.file": "file", "m.audio": "audio", "m.video": "video" };

/** Reads a media message's content; `problem` names what is malformed (for the log). */
export function parseMediaRef(event: Pick<RoomEvent, "content">): MediaRefResult {
  const parsed = MediaContentSchema.safeParse(event.content);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, problem: `${issue?.path.join(".") || "content"}: ${issue?.message ?? "malformed"}` };
  }
  const c = parsed.data;
  const source = c.file ? { kind: "encrypted" as const, mxc: c.file.url, file: c.file } : c.url ? { kind: "plain" as const, mxc: c.url } : undefined;
  if (!source) return { ok: false, problem: "content: neither url nor file" };
  const body = c.body?.trim() ?? "";
  const filename = (c.filename?.trim() || body || FALLBACK_NAMES[c.msgtype]).slice(0, 255);
  const caption = c.filename !== undefined && body !== "" && body !== c.filename ? c.body : undefined;
  return {
    ok: true,
    ref: {
      msgtype: c.msgtype, voice: c.msgtype === "m.audio" && c["org.matrix.msc3245.voice"] !== undefined, source, filename,
      ...(caption !== undefined ? { caption } : {}),
      ...(c.info?.mimetype !== undefined ? { declaredMime: c.info.mimetype } : {}),
      ...(c.info?.size !== undefined ? { declaredSize: c.info.size } : {}),
    },
  };
}
