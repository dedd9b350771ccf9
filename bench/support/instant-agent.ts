// The instant agent both subjects of the turn benchmarks talk to: protocol v1 (hello → ready; run → RUN_STARTED,
// one TEXT_MESSAGE "ok", RUN_FINISHED, each its own frame with the session's next seq), answering at once.
//
// Why not the reference agent (src/reference-agent) here: it validates frames strictly and refuses the floor
// relay's `run` frames, which carry no `input.context` (a field protocol v1 has). This agent reads only what it
// needs, so the bot and the floor reach the same agent, doing the same (small) work per run.
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";

export interface InstantAgent {
  url: string;
  connections(): number;
  /** Runs answered so far. */
  readonly runs: number;
  close(): Promise<void>;
}

export async function startLenientInstantAgent(): Promise<InstantAgent> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false, maxPayload: 1024 * 1024 });
  let sessions = 0;
  let runs = 0;
  wss.on("connection", (ws: WebSocket) => {
    let seq = 0;
    let sessionId: string | undefined;
    ws.on("error", () => undefined);
    ws.on("message", (data) => {
      let frame: { op?: unknown; threadId?: unknown; runId?: unknown };
      try {
        frame = JSON.parse(String(data)) as typeof frame;
      } catch {
        return;
      }
      if (frame.op === "hello") {
        sessionId = `s-bench-${(sessions += 1)}`;
        ws.send(JSON.stringify({ op: "ready", sessionId, resumed: false, heartbeatMs: 25_000 }));
        return;
      }
      if (frame.op !== "run" || sessionId === undefined) return;
      const { threadId, runId } = frame;
      runs += 1;
      const messageId = `m-${runs}`;
      const events = [
        { type: "RUN_STARTED" },
        { type: "TEXT_MESSAGE_START", messageId },
        { type: "TEXT_MESSAGE_CONTENT", messageId, delta: "ok" },
        { type: "TEXT_MESSAGE_END", messageId },
        { type: "RUN_FINISHED" },
      ];
      for (const event of events) ws.send(JSON.stringify({ op: "event", seq: (seq += 1), threadId, runId, event }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    wss.once("listening", resolve);
    wss.once("error", reject);
  });
  const { port } = wss.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    connections: () => wss.clients.size,
    get runs() {
      return runs;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  };
}
