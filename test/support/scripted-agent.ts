// A scripted agent on 127.0.0.1 for tests, speaking protocol v1 (default) or v2 (`protocol: 2`: its ready picks
// matrix-agent/2 when the bot offers it): it records every frame the bot sends, answers hello with ready (or
// whatever `onHello` does), and sends exactly the frames a test scripts. Pings are answered per connection
// (`answerPings`), so a test can make one connection half-open and let the next one live.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import WebSocket, { WebSocketServer } from "ws";

export interface ScriptedConn {
  ws: WebSocket;
  /** Headers of the upgrade request. */
  headers: http.IncomingHttpHeaders;
  /** Parsed frames received from the bot after hello, in order. */
  frames: Array<Record<string, unknown>>;
  hello: Record<string, unknown> | undefined;
  /** Whether pings get a pong; false makes the connection look half-open to the bot. */
  answerPings: boolean;
  /** The protocol of this connection: 2 once the ready picked matrix-agent/2. */
  version: 1 | 2;
  /**
   * Send an event frame with the next seq. threadId: `extra.threadId`, else the one of the run frame with
   * this runId, else "t1".
   */
  event(runId: string, event: Record<string, unknown>, extra?: Record<string, unknown>): void;
  /** RUN_STARTED, one TEXT_MESSAGE per text, RUN_FINISHED (v2: RUN_STARTED/RUN_FINISHED name the run). */
  answer(runId: string, ...texts: string[]): void;
  /** The threadId of the run frame with this runId ("t1" when there is none). */
  threadOf(runId: string): string;
  raw(text: string): void;
  seq: number;
}

export interface ScriptedAgentOptions {
  /** 2: the default ready picks matrix-agent/2 (with AG-UI capabilities) when the bot's hello offers it. */
  protocol?: 1 | 2;
  /** The AG-UI capabilities a v2 ready declares (default: streaming only, no attachments). */
  capabilities?: Record<string, unknown>;
  /** Answer pings (default true); a function decides per connection (0 = the first). false = half-open. */
  autoPong?: boolean | ((connIndex: number) => boolean);
  /** Called on hello; default answers ready (sessionId "s-1", resumed when the bot resumed "s-1"). */
  onHello?: (conn: ScriptedConn, hello: Record<string, unknown>) => void;
  /** Called for every frame after hello. */
  onFrame?: (conn: ScriptedConn, frame: Record<string, unknown>) => void;
}

export interface ScriptedAgent {
  url: string;
  conns: ScriptedConn[];
  latest(): ScriptedConn;
  /** Every run frame received, on any connection. */
  runs(): Array<Record<string, unknown>>;
  close(): Promise<void>;
}

export const scriptedAgents: ScriptedAgent[] = [];

export async function startScriptedAgent(options: ScriptedAgentOptions = {}): Promise<ScriptedAgent> {
  const server = http.createServer();
  const wss = new WebSocketServer({ server, autoPong: false });
  const conns: ScriptedConn[] = [];
  const pongs = options.autoPong ?? true;
  wss.on("connection", (ws, req) => {
    const conn: ScriptedConn = {
      ws,
      headers: req.headers,
      frames: [],
      hello: undefined,
      answerPings: typeof pongs === "function" ? pongs(conns.length) : pongs,
      version: 1,
      seq: 0,
      threadOf(runId) {
        const run = conn.frames.find((f) => f.op === "run" && f.runId === runId);
        return typeof run?.threadId === "string" ? run.threadId : "t1";
      },
      event(runId, event, extra = {}) {
        conn.seq += 1;
        conn.raw(JSON.stringify({ op: "event", seq: conn.seq, threadId: conn.threadOf(runId), runId, event, ...extra }));
      },
      answer(runId, ...texts) {
        const names = conn.version === 2 ? { threadId: conn.threadOf(runId), runId } : {};
        conn.event(runId, { type: "RUN_STARTED", ...names });
        texts.forEach((text, i) => {
          const messageId = `m${i}`;
          conn.event(runId, { type: "TEXT_MESSAGE_START", messageId });
          conn.event(runId, { type: "TEXT_MESSAGE_CONTENT", messageId, delta: text });
          conn.event(runId, { type: "TEXT_MESSAGE_END", messageId });
        });
        conn.event(runId, { type: "RUN_FINISHED", ...names });
      },
      raw(text) {
        if (ws.readyState === WebSocket.OPEN) ws.send(text);
      },
    };
    conns.push(conn);
    ws.on("ping", (data) => {
      if (conn.answerPings && ws.readyState === WebSocket.OPEN) ws.pong(data);
    });
    ws.on("message", (data) => {
      const frame = JSON.parse(String(data)) as Record<string, unknown>;
      if (frame.op === "hello") {
        conn.hello = frame;
        if (options.onHello) options.onHello(conn, frame);
        else {
          const resume = frame.resume as { sessionId?: string } | undefined;
          const offered = Array.isArray(frame.protocols) && frame.protocols.includes("matrix-agent/2");
          if (options.protocol === 2 && offered) conn.version = 2;
          conn.raw(JSON.stringify({ op: "ready", sessionId: "s-1", resumed: resume?.sessionId === "s-1",
            ...(conn.version === 2 ? { protocol: "matrix-agent/2", capabilities: options.capabilities ?? { transport: { streaming: true } } } : {}) }));
        }
        return;
      }
      conn.frames.push(frame);
      options.onFrame?.(conn, frame);
    });
    ws.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const agent: ScriptedAgent = {
    url: `ws://127.0.0.1:${port}`,
    conns,
    latest() {
      const c = conns[conns.length - 1];
      if (!c) throw new Error("no connection yet");
      return c;
    },
    runs: () => conns.flatMap((c) => c.frames.filter((f) => f.op === "run")),
    async close() {
      for (const c of conns) c.ws.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  scriptedAgents.push(agent);
  return agent;
}

export async function closeScriptedAgents(): Promise<void> {
  await Promise.all(scriptedAgents.splice(0).map((a) => a.close()));
}
