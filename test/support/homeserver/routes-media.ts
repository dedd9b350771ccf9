// Media repository routes, as Synapse answers them: POST /_matrix/media/v3/upload (auth, raw body, 413 M_TOO_LARGE),
// GET /_matrix/media/v3/download/{serverName}/{mediaId}[/{fileName}] (legacy, no auth), and — when the double
// advertises Matrix 1.11 (authenticated media, MSC3916) — GET /_matrix/client/v1/media/download/... (401
// M_MISSING_TOKEN without a token). Without it the v1 routes do not exist (404 M_UNRECOGNIZED, like Synapse 1.67).
// Unknown media: 404 M_NOT_FOUND. Downloads are written in chunks, honouring backpressure, and counted.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { MediaRepository } from "./media";
import type { Reply, Route, RouteContext } from "./router";
import { me, param, rawRoute } from "./router";
import { MatrixHttpError, notFound } from "./types";

export interface MediaRouteOptions {
  /** Serve /_matrix/client/v1/media (and advertise v1.11 in /versions). Default true. */
  authenticated: boolean;
  maxUploadBytes: number;
}

const CHUNK = 64 * 1024;

export function mediaRoutes(repo: MediaRepository, opts: MediaRouteOptions): Route[] {
  const upload = async (ctx: RouteContext): Promise<Reply> => {
    const uploader = me(ctx).userId;
    const bytes = await readRaw(ctx.req, opts.maxUploadBytes);
    const filename = ctx.query.get("filename") ?? undefined;
    const contentType = ctx.req.headers["content-type"] ?? "application/octet-stream";
    return { body: { content_uri: repo.add({ bytes, contentType, uploader, ...(filename !== undefined ? { filename } : {}) }) } };
  };
  const download = (ctx: RouteContext): Promise<Reply> => {
    const serverName = param(ctx, "serverName");
    const mediaId = param(ctx, "mediaId");
    const item = repo.get(serverName, mediaId);
    if (!item) throw notFound("Not found");
    const name = ctx.params["fileName"] ?? item.filename;
    ctx.res.writeHead(200, {
      "content-type": item.contentType, "content-length": String(item.bytes.length),
      "content-disposition": name !== undefined ? `attachment; filename*=utf-8''${encodeURIComponent(name)}` : "attachment",
      "content-security-policy": "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; media-src 'self'; object-src 'self';",
      "cross-origin-resource-policy": "cross-origin",
    });
    const served = repo.record(mediaId);
    return writeCounted(ctx.res, item.bytes, (n) => (served.bytesSent += n)).then((whole) => {
      if (whole) served.downloads += 1;
      else served.abandoned += 1;
      return { body: undefined };
    });
  };
  const legacy = "_matrix/media/v3/download";
  const v1 = "_matrix/client/v1/media/download";
  return [
    rawRoute("POST", "/_matrix/media/v3/upload", upload, { rawBody: true }),
    rawRoute("GET", `/${legacy}/:serverName/:mediaId`, download, { auth: false }),
    rawRoute("GET", `/${legacy}/:serverName/:mediaId/:fileName`, download, { auth: false }),
    ...(opts.authenticated ? [
      rawRoute("GET", `/${v1}/:serverName/:mediaId`, download),
      rawRoute("GET", `/${v1}/:serverName/:mediaId/:fileName`, download),
    ] : []),
  ];
}

async function readRaw(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) throw new MatrixHttpError(413, "M_TOO_LARGE", "Upload request body is too large");
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new MatrixHttpError(413, "M_TOO_LARGE", "Upload request body is too large");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Writes in chunks, waiting for drain; counts each chunk once flushed. Resolves true when all was written, false
 *  when the client left first. */
function writeCounted(res: ServerResponse, bytes: Buffer, flushed: (n: number) => void): Promise<boolean> {
  return new Promise((resolve) => {
    let offset = 0;
    const done = (): void => {
      res.off("drain", next);
      res.off("close", done);
      resolve(res.writableFinished);
    };
    const next = (): void => {
      while (offset < bytes.length) {
        if (res.destroyed) return done();
        const piece = bytes.subarray(offset, offset + CHUNK);
        offset += piece.length;
        const more = res.write(piece, (err) => {
          if (!err) flushed(piece.length);
        });
        if (!more) return;
      }
      res.end(done);
    };
    res.on("drain", next);
    res.on("close", done);
    next();
  });
}
