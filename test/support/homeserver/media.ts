// The double's media repository: uploads kept in memory by media id, with their content type and file name, and
// what was served of each (requests, bytes actually written before the client went away).
import { randomBytes } from "node:crypto";

export interface StoredMedia {
  bytes: Buffer;
  contentType: string;
  filename?: string;
  uploader?: string;
}

export interface MediaServed {
  /** Download requests answered 200 and written out whole (legacy and authenticated). */
  downloads: number;
  /** Downloads the client left before the last byte was written. */
  abandoned: number;
  /** Bytes written to clients and flushed (an aborted download counts what went out before). */
  bytesSent: number;
}

export class MediaRepository {
  private readonly items = new Map<string, StoredMedia>();
  private readonly served = new Map<string, MediaServed>();

  constructor(readonly serverName: string) {}

  add(media: StoredMedia): string {
    const mediaId = randomBytes(12).toString("base64url");
    this.items.set(mediaId, media);
    return `mxc://${this.serverName}/${mediaId}`;
  }

  /** Local media by id; remote servers' media is never fetched (404, as for a gone remote). */
  get(serverName: string, mediaId: string): StoredMedia | undefined {
    return serverName === this.serverName ? this.items.get(mediaId) : undefined;
  }

  /** Replace the stored bytes (a test altering a file on the server). */
  replace(mxc: string, bytes: Buffer): void {
    const item = this.items.get(this.idOf(mxc));
    if (!item) throw new Error(`no media ${mxc}`);
    item.bytes = bytes;
  }

  servedOf(mxc: string): MediaServed {
    return { ...(this.served.get(this.idOf(mxc)) ?? { downloads: 0, abandoned: 0, bytesSent: 0 }) };
  }

  record(mediaId: string): MediaServed {
    let entry = this.served.get(mediaId);
    if (!entry) {
      entry = { downloads: 0, abandoned: 0, bytesSent: 0 };
      this.served.set(mediaId, entry);
    }
    return entry;
  }

  private idOf(mxc: string): string {
    const match = /^mxc:\/\/[^/]+\/([^/]+)$/.exec(mxc);
    if (!match?.[1]) throw new Error(`not an mxc URI: ${mxc}`);
    return match[1];
  }
}
