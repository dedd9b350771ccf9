// Attachments in end-to-end tests: a person uploads through POST /_matrix/media/v3/upload and sends the event; the
// scripted v2 agent's run frames are read back as AG-UI content parts.
import type { MatrixTestUser } from "../../support/matrix-test-user";
import type { Scenario } from "../../support/scenario";

export interface Part {
  type: string;
  text?: string;
  source?: { type: "data" | "url"; value: string; mimeType?: string };
  metadata?: { filename?: string; size?: number; voice?: boolean };
}

/** Uploads as `person` over HTTP; returns the mxc URI. */
export async function upload(s: Scenario, person: MatrixTestUser, bytes: Buffer, contentType: string, filename: string): Promise<string> {
  const res = await fetch(`${s.hs.url}/_matrix/media/v3/upload?filename=${encodeURIComponent(filename)}`, {
    method: "POST", body: bytes, headers: { authorization: `Bearer ${person.accessToken}`, "content-type": contentType },
  });
  if (res.status !== 200) throw new Error(`upload failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { content_uri: string }).content_uri;
}

/** An m.image / m.file / m.audio / m.video event's content; `caption` makes body differ from filename (MSC2530). */
export function mediaContent(msgtype: string, url: string, filename: string, opts: { caption?: string; mimetype?: string; size?: number; extra?: Record<string, unknown> } = {}): Record<string, unknown> {
  const info = { ...(opts.mimetype ? { mimetype: opts.mimetype } : {}), ...(opts.size !== undefined ? { size: opts.size } : {}) };
  return { msgtype, body: opts.caption ?? filename, filename, url, info, ...opts.extra };
}

/** The content parts of the last message of a run frame. */
export function partsOf(run: Record<string, unknown> | undefined): Part[] {
  const input = run?.["input"] as { messages?: Array<{ content: unknown }> } | undefined;
  const content = input?.messages?.at(-1)?.content;
  return Array.isArray(content) ? (content as Part[]) : [{ type: "text", text: String(content) }];
}

/** Download requests the homeserver saw, as "legacy" or "authenticated". */
export function downloadsSeen(s: Scenario): string[] {
  return s.hs.requests.filter((r) => r.path.includes("/download/"))
    .map((r) => (r.path.startsWith("/_matrix/client/v1/media/") ? "authenticated" : "legacy"));
}

export const ALL_KINDS = { multimodal: { input: { image: true, audio: true, video: true, pdf: true, file: true } } };
export const IMAGES_ONLY = { multimodal: { input: { image: true } } };
