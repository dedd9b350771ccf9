// Test support for the agent link: a scripted protocol server on 127.0.0.1, a memory session store,
// millisecond link options and small wait helpers.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import pino, { type Logger } from "pino";
import WebSocket, { WebSocketServer } from "ws";
import { AgentLink, type AgentLinkOptions, type PersistedSession, type SessionStore } from "../../../src/agent/link";
import type { RunRequest } from "../../../src/agent/link";

export const silent: Logger = pino({ level: "silent" });

export interface LogLine {
  level: number;
  msg?: string;
  [key: string]: unknown;
}

/** A pino logger whose lines are kept, parsed, for assertions. */
export function capturingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return { logger, lines };
}

export class MemorySessionStore implements SessionStore {
  saved: PersistedSession[] = [];
  failSaves = 0;
  /** When set, save() waits for this before completing. */
  gate: Promise<void> | undefined;
  constructor(public value?: PersistedSession) {}
  async load(): Promise<PersistedSession | undefined> {
    return this.value ? { ...this.value } : undefined;
  }
  async save(s: PersistedSession): Promise<void> {
    if (this.gate) await this.gate;
    if (this.failSaves > 0) {
      this.failSaves -= 1;
      throw new Error("store down");
    }
    this.value = { ...s };
    this.saved.push({ ...s });
  }
}

export function linkOptions(url: string, over: Partial<AgentLinkOptions> = {}): AgentLinkOptions {
  return {
    url,
    logger: silent,
    clientName: "matrix-agent-bot/test",
    sessionStore: new MemorySessionStore(),
    heartbeatMs: 5_000,
    pongTimeoutMs: 5_000,
    reconnectBaseMs: 5,
    reconnectMaxMs: 50,
    reconnectResetMs: 10_000,
    maxFrameBytes: 1024 * 1024,
    runStartTimeoutMs: 2_000,
    runIdleTimeoutMs: 2_000,
    runDeadlineMs: 5_000,
    connectTimeoutMs: 2_000,
    ...over,
  };
}

/** Every link a test creates, stopped in afterEach. */
export const links: AgentLink[] = [];
export function newLink(opts: AgentLinkOptions): AgentLink {
  const link = new AgentLink(opts);
  links.push(link);
  return link;
}
export async function stopLinks(): Promise<void> {
  await Promise.all(links.splice(0).map((l) => l.stop()));
}

export function runRequest(runId: string, text = "hi", threadId = "t1"): RunRequest {
  return {
    threadId,
    runId,
    input: {
      messages: [{ id: `$${runId}`, role: "user", content: text, sender: "@alice:example.org", senderName: "Alice" }],
      context: { roomId: "!room:example.org", isDirect: true },
    },
  };
}

export async function waitFor(cond: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ------------------------------------------------------------------ scripted agent

export interface ScriptedConn {
  ws: WebSocket;
  /** Headers of the upgrade request. */
  headers: http.IncomingHttpHeaders;
  /** Parsed frames received from the bot, in order. */
  frames: Array<Record<string, unknown>>;
  hello: Record<string, unknown> | undefined;
  /** Send an event frame with the next seq. */
  event(runId: string, event: Record<string, unknown>, extra?: Record<string, unknown>): void;
  raw(text: string): void;
  seq: number;
}

export interface ScriptedAgentOptions {
  /** Answer pings (default true). false simulates a half-open connection. */
  autoPong?: boolean;
  /** Called on hello; default answers ready (sessionId "s-1", resumed when the bot resumed "s-1"). */
  onHello?: (conn: ScriptedConn, hello: Record<string, unknown>) => void;
  /** Called for every frame after hello. */
  onFrame?: (conn: ScriptedConn, frame: Record<string, unknown>) => void;
}

export interface ScriptedAgent {
  url: string;
  conns: ScriptedConn[];
  latest(): ScriptedConn;
  close(): Promise<void>;
}

export const scriptedAgents: ScriptedAgent[] = [];

export async function startScriptedAgent(options: ScriptedAgentOptions = {}): Promise<ScriptedAgent> {
  const server = http.createServer();
  const wss = new WebSocketServer({ server, autoPong: options.autoPong ?? true });
  const conns: ScriptedConn[] = [];
  wss.on("connection", (ws, req) => {
    const conn: ScriptedConn = {
      ws,
      headers: req.headers,
      frames: [],
      hello: undefined,
      seq: 0,
      event(runId, event, extra = {}) {
        conn.seq += 1;
        conn.raw(JSON.stringify({ op: "event", seq: conn.seq, threadId: "t1", runId, event, ...extra }));
      },
      raw(text) {
        if (ws.readyState === WebSocket.OPEN) ws.send(text);
      },
    };
    conns.push(conn);
    ws.on("message", (data) => {
      const frame = JSON.parse(String(data)) as Record<string, unknown>;
      if (frame.op === "hello") {
        conn.hello = frame;
        if (options.onHello) options.onHello(conn, frame);
        else {
          const resume = frame.resume as { sessionId?: string } | undefined;
          conn.raw(JSON.stringify({ op: "ready", sessionId: "s-1", resumed: resume?.sessionId === "s-1" }));
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

/** A port nothing listens on (bound then released). */
export async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}
