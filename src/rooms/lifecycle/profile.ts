// BOT_DISPLAY_NAME: set as the bot's global display name at start, only when it differs (a change rewrites the
// bot's member event in every joined room, so it is not repeated needlessly).
import type { Logger } from "pino";
import { MatrixRequestError } from "../../matrix/errors";
import { enc, type MatrixHttp } from "../../matrix/http";

export async function syncDisplayName(http: MatrixHttp, userId: string, wanted: string | undefined, log: Logger): Promise<void> {
  if (wanted === undefined || wanted.trim() === "") return;
  const path = `/_matrix/client/v3/profile/${enc(userId)}/displayname`;
  let current: string | undefined;
  try {
    const res = await http.request<{ displayname?: unknown }>("GET", path);
    current = typeof res?.displayname === "string" ? res.displayname : undefined;
  } catch (e) {
    if (!(e instanceof MatrixRequestError && e.kind === "not_found")) throw e;
  }
  if (current === wanted) return;
  await http.request("PUT", path, { body: { displayname: wanted } });
  log.info({ displayName: wanted }, "display name set from BOT_DISPLAY_NAME");
}
