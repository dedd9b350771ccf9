// Test support for the agent link and the reference agent: a memory session store, millisecond link options,
// reference agents and raw protocol clients that tearDown() closes, and small wait helpers.
// The scripted protocol server lives in test/support/scripted-agent.ts (the e2e tests use it too).
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import pino, { type Logger } from "pino";
import WebSocket from "ws";
import { AgentLink, type AgentLinkOptions, type PersistedSession, type SessionStore } from "../../../src/agent/link";
import type { RunRequest } from "../../../src/agent/link";
import { startReferenceAgent, type ReferenceAgent, type ReferenceAgentOptions } from "../../../src/reference-agent/server";
import { closeScriptedAgents } from "../../support/scripted-agent";
import { waitFor as waitUntil } from "../../support/wait";

export { expectSteady } from "../../support/wait";

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
  /** Saves waiting at the gate now. */
  held = 0;
  constructor(public value?: PersistedSession) {}
  async load(): Promise<PersistedSession | undefined> {
    return this.value ? { ...this.value } : undefined;
  }
  async save(s: PersistedSession): Promise<void> {
    if (this.gate) {
      this.held += 1;
      await this.gate;
      this.held -= 1;
    }
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

/** Every reference agent and raw socket a test opens, closed by tearDown. */
const referenceAgents: ReferenceAgent[] = [];
const sockets: WebSocket[] = [];

/** A reference agent on 127.0.0.1 (any port, silent) with `opts`. */
export async function referenceAgent(opts: Omit<Partial<ReferenceAgentOptions>, "host" | "port" | "logger"> = {}): Promise<ReferenceAgent> {
  const agent = await startReferenceAgent({ host: "127.0.0.1", port: 0, logger: silent, ...opts });
  referenceAgents.push(agent);
  return agent;
}

/** The agent tests' afterEach: raw sockets terminated, links stopped, scripted and reference agents closed. */
export async function tearDown(): Promise<void> {
  for (const s of sockets.splice(0)) s.terminate();
  await stopLinks();
  await closeScriptedAgents();
  await Promise.all(referenceAgents.splice(0).map((a) => a.close()));
}

export type Frame = Record<string, unknown>;

/** A WebSocket to `url`, not yet open. */
export function openSocket(url: string, headers: Record<string, string> = {}): WebSocket {
  const ws = new WebSocket(url, { headers });
  sockets.push(ws);
  return ws;
}

/** A raw protocol client that records every frame the agent sends; `send` takes a frame or a raw string. */
export async function rawClient(url: string, headers: Record<string, string> = {}): Promise<{
  ws: WebSocket; frames: Frame[]; send(f: unknown): void; events(): Frame[];
}> {
  const ws = openSocket(url, headers);
  const frames: Frame[] = [];
  ws.on("message", (d) => frames.push(JSON.parse(String(d)) as Frame));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return {
    ws,
    frames,
    send: (f) => ws.send(typeof f === "string" ? f : JSON.stringify(f)),
    events: () => frames.filter((f) => f.op === "event"),
  };
}

export const hello = (resume?: { sessionId: string; lastSeq: number }): Frame => ({
  op: "hello", protocol: "matrix-agent/1", client: "test", ...(resume ? { resume } : {}),
});

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

/** Waits until `cond` holds (deadline: DEFAULT_WAIT_MS or `timeoutMs`, scaled by TEST_TIME_SCALE). */
export async function waitFor(cond: () => boolean, what: string, timeoutMs?: number): Promise<void> {
  await waitUntil(cond, { what, intervalMs: 5, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
}

/**
 * A user run through the link, answered by an echo agent: once it is over, every frame the link sent before it
 * has reached the agent (one socket, in order) and everything the agent sent before its answer has reached the
 * link. What a negative check ("no ack yet") waits on instead of the clock.
 */
let barriers = 0;
export async function barrier(link: AgentLink): Promise<void> {
  barriers += 1;
  const runId = `barrier-${barriers}`;
  const result = await link.run(runRequest(runId, "barrier", runId), { onTextMessage: () => undefined });
  if (!result.ok) throw new Error(`the barrier run failed: ${JSON.stringify(result)}`);
}

/** A port nothing listens on (bound then released). */
export async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}
