// The agent's files in end-to-end tests: a scripted v2 agent that answers each run with a CUSTOM matrix.attachment
// (and optional text), and reading a posted file back from the homeserver over HTTP, as a client does.
import type { ScriptedConn } from "../../support/scripted-agent";

export interface OutFile {
  filename: string;
  mimeType: string;
  bytes: Buffer;
}

/** RUN_STARTED, the texts, then each file as CUSTOM matrix.attachment, RUN_FINISHED. */
export function answerWithFiles(conn: ScriptedConn, runId: string, files: OutFile[], texts: string[] = []): void {
  const names = { threadId: conn.threadOf(runId), runId };
  conn.event(runId, { type: "RUN_STARTED", ...names });
  texts.forEach((text, i) => {
    conn.event(runId, { type: "TEXT_MESSAGE_START", messageId: `m${i}`, role: "assistant" });
    conn.event(runId, { type: "TEXT_MESSAGE_CONTENT", messageId: `m${i}`, delta: text });
    conn.event(runId, { type: "TEXT_MESSAGE_END", messageId: `m${i}` });
  });
  for (const f of files) {
    conn.event(runId, { type: "CUSTOM", name: "matrix.attachment", value: { filename: f.filename, mimeType: f.mimeType, data: f.bytes.toString("base64") } });
  }
  conn.event(runId, { type: "RUN_FINISHED", ...names });
}

/** Downloads an mxc URI through the legacy media API (what every homeserver serves). */
export async function downloadMxc(hsUrl: string, mxc: string): Promise<Buffer> {
  const match = /^mxc:\/\/([^/]+)\/(.+)$/.exec(mxc);
  if (!match) throw new Error(`not an mxc URI: ${mxc}`);
  const res = await fetch(`${hsUrl}/_matrix/media/v3/download/${match[1]}/${match[2]}`);
  if (res.status !== 200) throw new Error(`download failed: ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}
