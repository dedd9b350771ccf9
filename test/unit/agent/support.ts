// Test support for the agent link: a memory session store, millisecond link options and small wait helpers.
// The scripted protocol server lives in test/support/scripted-agent.ts (the e2e tests use it too).
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import pino, { type Logger } from "pino";
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

/** A port nothing listens on (bound then released). */
export async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}
