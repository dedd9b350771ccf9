// A downloaded attachment ready for the agent: its bytes in memory (never on disk), the type read from them, and
// what to give back when its turn is settled (the bytes' share of MEDIA_MAX_INFLIGHT_BYTES, the URLs minted for it).
import type { MediaKind } from "./sniff";

export class PreparedMedia {
  private readonly releases: Array<() => void> = [];
  private released = false;

  constructor(
    readonly bytes: Buffer,
    readonly mimeType: string,
    readonly kind: MediaKind,
    readonly filename: string,
    /** MSC3245 voice message. */
    readonly voice: boolean,
  ) {}

  get size(): number {
    return this.bytes.length;
  }

  /** Runs `fn` on release (at once when already released). */
  onRelease(fn: () => void): void {
    if (this.released) fn();
    else this.releases.push(fn);
  }

  /** The turn is settled: the bytes are no longer needed. Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    for (const fn of this.releases.splice(0)) fn();
  }

  /** What JSON.stringify shows of it (logs, v1 frames): never the bytes. */
  toJSON(): Record<string, unknown> {
    return { kind: this.kind, mimeType: this.mimeType, filename: this.filename, size: this.size };
  }
}

/** The AG-UI part type of a kind: PDFs and other files are documents. */
export function partTypeOf(kind: MediaKind): "image" | "audio" | "video" | "document" {
  return kind === "pdf" || kind === "file" ? "document" : kind;
}

/** The words a text-only history keeps instead of the bytes: "[image: cat.png]". */
export function placeholderOf(media: { kind: MediaKind; filename: string; voice?: boolean }): string {
  const label = media.voice ? "voice message" : media.kind;
  return `[${label}: ${media.filename}]`;
}
