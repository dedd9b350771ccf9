// The reference agent: a WebSocket server speaking protocol v2 to bots that offer it, v1 to the others
// (runbook/agent-protocol.md).
// Echo mode answers each run with `You said: <last message>`; a custom brain (e.g. an LLM) can plug in.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { timingSafeEqual } from "node:crypto";
import { WebSocketServer } from "ws";
import type { Logger } from "pino";
import { AgentCore, capabilitiesReading } from "./agent-core";
import { createEchoBrain, type AgentBrain } from "./brain";
import { AgentConnection } from "./connection";
import { MemoryAgentJournal, type AgentJournal } from "./journal";
import { startAguiHttpServer } from "./http-server";

export { ECHO_PREFIX, echoReply, echoReplyFor, AgentRunError, createEchoBrain } from "./brain";
export type { AgentBrain, RunOutput, RunContextInfo } from "./brain";
export { MemoryAgentJournal } from "./journal";
export type { AgentJournal, JournalEntry } from "./journal";

export type ReferenceAgentMode = { kind: "echo"; delayMs?: number } | { kind: "custom"; brain: AgentBrain };

export interface ReferenceAgentOptions {
  /** Only 127.0.0.1 in tests; whatever the operator configures otherwise. */
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** When set, the upgrade must carry `Authorization: Bearer <token>` (else HTTP 401). */
  token?: string;
  logger: Logger;
  /** Advertised in `ready`; the bot pings at least this often. Default 25 s. */
  heartbeatMs?: number;
  /** Default echo without delay. `delayMs` holds the reply back (to exercise cancel and thread_busy). */
  mode?: ReferenceAgentMode;
  /** ws maxPayload for frames from the bot. Default 1 MiB. */
  maxFrameBytes?: number;
  /** Unacked agent-initiated frames. Default in memory. */
  journal?: AgentJournal;
  /** AGENT_HTTP_PORT: also serve plain AG-UI over HTTP + SSE on this port (0: any free one). Default: not. */
  httpPort?: number;
}

export interface ReferenceAgent {
  url: string;
  port: number;
  /** Where it serves AG-UI over HTTP + SSE, when asked to (httpPort). */
  httpUrl?: string;
  close(): Promise<void>;
  /** Start an agent-initiated run with one TEXT_MESSAGE (proactive: true unless told otherwise). */
  emitProactive(threadId: string, text: string, opts?: { proactive?: boolean }): Promise<{ runId: string }>;
  /** Open bot connections. */
  connections(): number;
  /** Drop every connection abruptly (no close frame), as a network failure would. */
  dropConnections(): void;
}

export const REFERENCE_AGENT_DEFAULTS = { heartbeatMs: 25_000, maxFrameBytes: 1024 * 1024 } as const;

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header ?? "");
  const wanted = Buffer.from(`Bearer ${token}`);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  socket.destroy();
}

export async function startReferenceAgent(options: ReferenceAgentOptions): Promise<ReferenceAgent> {
  const log = options.logger;
  const heartbeatMs = options.heartbeatMs ?? REFERENCE_AGENT_DEFAULTS.heartbeatMs;
  const mode = options.mode ?? { kind: "echo" };
  const brain = mode.kind === "custom" ? mode.brain : createEchoBrain(mode.delayMs ?? 0);
  const core = new AgentCore(options.journal ?? new MemoryAgentJournal(), log, heartbeatMs, capabilitiesReading(brain.reads));
  const conns = new Set<AgentConnection>();
  let counter = 0;

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxFrameBytes ?? REFERENCE_AGENT_DEFAULTS.maxFrameBytes,
    perMessageDeflate: false,
  });
  const server = http.createServer((_req, res) => {
    res.writeHead(426, { "content-type": "text/plain" }).end("this is a matrix-agent/1 and matrix-agent/2 WebSocket endpoint\n");
  });
  server.on("upgrade", (req, socket, head) => {
    socket.on("error", () => undefined);
    if (options.token !== undefined && !tokenMatches(req.headers.authorization, options.token)) {
      log.warn({ remote: req.socket.remoteAddress }, "reference agent: refused a connection with a bad token");
      refuse(socket, 401, "Unauthorized");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = new AgentConnection(ws, `c${++counter}`, core, brain, log, heartbeatMs);
      conns.add(conn);
      ws.on("close", () => conns.delete(conn));
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (err) => log.error({ err }, "reference agent: server error"));
  const port = (server.address() as AddressInfo).port;
  const hostPart = options.host.includes(":") ? `[${options.host}]` : options.host;
  const url = `ws://${hostPart}:${port}`;
  log.info({ url }, "reference agent listening");
  const aguiHttp = options.httpPort === undefined ? undefined
    : await startAguiHttpServer({ host: options.host, port: options.httpPort, ...(options.token !== undefined ? { token: options.token } : {}),
      logger: log, brain, maxBodyBytes: options.maxFrameBytes ?? REFERENCE_AGENT_DEFAULTS.maxFrameBytes });

  let closed: Promise<void> | undefined;
  return {
    url,
    port,
    ...(aguiHttp ? { httpUrl: aguiHttp.url } : {}),
    connections: () => conns.size,
    dropConnections: () => {
      for (const c of [...conns]) c.terminate();
    },
    emitProactive: (threadId, text, opts) => core.emitProactive(threadId, text, opts?.proactive ?? true),
    close: () => {
      closed ??= (async () => {
        for (const c of [...conns]) c.terminate();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await serverClosed;
        await aguiHttp?.close();
        await core.idle();
      })();
      return closed;
    },
  };
}
