// The type of a file comes from its bytes, never from what the sender's client declared: file-type 16.5.4 (the
// last CommonJS major; 17+ are ESM-only and the newest need Node 22) reads the magic numbers. Bytes it does not
// recognise are an image, audio or video only if they prove it, so they become a plain file: text when they are
// valid UTF-8 without control bytes, else application/octet-stream.
import { fromBuffer } from "file-type";

/** The kinds of AG-UI input content, with `pdf` and `file` told apart as AgentCapabilities does. */
export type MediaKind = "image" | "audio" | "video" | "pdf" | "file";

export interface SniffedType {
  mimeType: string;
  kind: MediaKind;
}

export async function sniffType(bytes: Buffer): Promise<SniffedType> {
  const found = await fromBuffer(bytes).catch(() => undefined);
  if (found) return { mimeType: found.mime, kind: kindOf(found.mime) };
  return { mimeType: looksLikeText(bytes) ? "text/plain" : "application/octet-stream", kind: "file" };
}

export function kindOf(mimeType: string): MediaKind {
  if (mimeType === "application/pdf") return "pdf";
  const top = mimeType.split("/")[0];
  return top === "image" || top === "audio" || top === "video" ? top : "file";
}

function looksLikeText(bytes: Buffer): boolean {
  const sample = bytes.subarray(0, 4096);
  if (sample.length === 0) return false;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x08\x0e-\x1f\x7f]/.test(sample.toString("latin1"))) return false;
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(sample.length < bytes.length ? trimPartial(sample) : sample);
    return true;
  } catch {
    return false;
  }
}

/** A sample cut in the middle of a UTF-8 sequence: drop the incomplete tail. */
function trimPartial(sample: Buffer): Buffer {
  let end = sample.length;
  for (let i = 1; i <= 3 && end - i >= 0; i++) {
    const byte = sample[end - i] ?? 0;
    if ((byte & 0xc0) === 0xc0) return sample.subarray(0, end - i);
    if ((byte & 0x80) === 0) break;
  }
  return sample;
}
