// Pictures, files and voice messages in (issue 22): the parts wired together for the composition root.
import type { Logger } from "pino";
import type { Config } from "../config";
import { ByteBudget } from "./budget";
import { MediaDownloader } from "./download";
import { MediaIntake, type MediaIntakeDeps } from "./intake";
import type { MediaPartOptions } from "./parts";
import { MEDIA_PATH, MediaUrls } from "./served";
import type { HttpRequest, HttpReply } from "../http/request";
import type { AttachmentPosting } from "../render/attachment-post";
import { MediaUploader } from "./upload";

export { MEDIA_PATH, MediaUrls } from "./served";
export { MediaIntake } from "./intake";
export { PreparedMedia } from "./prepared";

export interface MediaRuntime {
  urls: MediaUrls;
  budget: ByteBudget;
  /** For the agent link: inline or by URL. */
  parts: MediaPartOptions;
  /** For the router, once the agents exist: `capabilities` of the agent a room's turn goes to. */
  intake(capabilities: MediaIntakeDeps["capabilities"]): MediaIntake;
  /** The agent's files for the rooms (issue 23): uploaded, encrypted where the room is, posted once. */
  posting(room: Pick<AttachmentPosting, "isRecorded" | "encrypted">): AttachmentPosting;
  /** The route of the bot's HTTP server (GET /media). */
  route: { path: string; handle(request: HttpRequest): HttpReply };
  close(): void;
}

/** `http://host:port` of HTTP_BIND as an agent on this machine reaches it (a wildcard address becomes loopback). */
export function localBaseUrl(host: string, port: number): string {
  const reachable = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  return `http://${reachable.includes(":") ? `[${reachable}]` : reachable}:${port}`;
}

export function createMediaRuntime(config: Config, deps: { accessToken: string; httpPort: () => number; log: Logger }): MediaRuntime {
  const t = config.timings;
  const urls = new MediaUrls({
    baseUrl: () => config.http.mediaPublicUrl ?? localBaseUrl(config.http.host, deps.httpPort()), ttlMs: t.mediaUrlTtlMs, log: deps.log,
  });
  const budget = new ByteBudget(t.mediaMaxInflightBytes);
  const downloader = new MediaDownloader({ homeserverUrl: config.homeserverUrl, accessToken: deps.accessToken,
    timeoutMs: t.mediaDownloadTimeoutMs, log: deps.log });
  const uploader = new MediaUploader({ homeserverUrl: config.homeserverUrl, accessToken: deps.accessToken, timeoutMs: t.mediaDownloadTimeoutMs,
    maxAttempts: t.sendMaxAttempts, retryBaseMs: t.retryBaseMs, retryMaxMs: t.retryMaxMs, log: deps.log });
  return {
    urls,
    budget,
    posting: (room) => ({ ...room, maxBytes: t.mediaOutMaxBytes, upload: (bytes, type, name) => uploader.upload(bytes, type, name) }),
    parts: { inlineMaxBytes: t.mediaInlineMaxBytes, offer: (media) => urls.offer(media) },
    intake: (capabilities) => new MediaIntake({ downloader, budget, maxBytes: t.mediaMaxBytes, log: deps.log, capabilities }),
    route: { path: MEDIA_PATH, handle: (request) => urls.handle(request) },
    close: () => urls.close(),
  };
}
