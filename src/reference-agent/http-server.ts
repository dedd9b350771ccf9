// The reference agent over plain AG-UI HTTP + SSE (AGENT_HTTP_PORT), so any AG-UI client can use it: POST a
// RunAgentInput (checked with AG-UI's schema), get the run's events as server-sent events (@ag-ui/encoder). The
// brain is the same as the WebSocket's and keeps its own memory per thread, so of the messages a (stateless)
// client sends only those after the last assistant message are new (none in a resume run, which answers the paused
// run's interrupts: RUN_FINISHED outcome "interrupt"). A closed connection stops the run.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID, timingSafeEqual } from "node:crypto";
import { EventEncoder } from "@ag-ui/encoder";
import type { Logger } from "pino";
import { fromRunAgentInput, RunAgentInputSchema, type AgentInterrupt } from "../agent/protocol-v2";
import { AgentRunError, type AgentBrain, type RunOutput } from "./brain";
import { RunUsage } from "./run-usage";
import { WorkEmitter } from "./work-emitter";

export interface AguiHttpServerOptions {
  host: string;
  port: number;
  token?: string;
  logger: Logger;
  brain: AgentBrain;
  /** Largest request body. Default 1 MiB. */
  maxBodyBytes?: number;
}

export interface AguiHttpServer {
  url: string;
  close(): Promise<void>;
}

function authorized(header: string | undefined, token: string | undefined): boolean {
  if (token === undefined) return true;
  const given = Buffer.from(header ?? "");
  const wanted = Buffer.from(`Bearer ${token}`);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

function readBody(req: http.IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        resolve(undefined);
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", () => resolve(undefined));
  });
}

export async function startAguiHttpServer(opts: AguiHttpServerOptions): Promise<AguiHttpServer> {
  const { logger: log, brain } = opts;
  const encoder = new EventEncoder();
  const server = http.createServer((req, res) => void handle(req, res).catch((err: unknown) => {
    log.error({ err }, "reference agent: HTTP run failed");
    res.destroy();
  }));
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    if (req.method !== "POST") {
      res.writeHead(405, { allow: "POST", "content-type": "text/plain" }).end("POST an AG-UI RunAgentInput here\n");
      return;
    }
    if (!authorized(req.headers.authorization, opts.token)) {
      log.warn({ remote: req.socket.remoteAddress }, "reference agent: refused an HTTP run with a bad token");
      res.writeHead(401).end();
      return;
    }
    const text = await readBody(req, opts.maxBodyBytes ?? 1024 * 1024);
    let parsed: ReturnType<typeof RunAgentInputSchema.safeParse> | undefined;
    try {
      parsed = text === undefined ? undefined : RunAgentInputSchema.safeParse(JSON.parse(text));
    } catch {
      parsed = undefined;
    }
    if (!parsed?.success) {
      res.writeHead(400, { "content-type": "text/plain" }).end("the body is not an AG-UI RunAgentInput\n");
      return;
    }
    const input = parsed.data;
    // A resume run continues the paused run: the messages it carries are the conversation so far, all known.
    const lastAnswer = input.resume !== undefined ? input.messages.length - 1 : input.messages.map((m) => m.role).lastIndexOf("assistant");
    const run = fromRunAgentInput({ ...input, messages: input.messages.slice(lastAnswer + 1) });
    if (!run) {
      res.writeHead(400, { "content-type": "text/plain" }).end("the run has no new user message\n");
      return;
    }
    const { threadId, runId } = input;
    const controller = new AbortController();
    res.on("close", () => controller.abort());
    res.writeHead(200, { "content-type": encoder.getContentType(), "cache-control": "no-cache" });
    const send = (event: Record<string, unknown>): void => {
      if (!controller.signal.aborted) res.write(encoder.encode(event as never));
    };
    send({ type: "RUN_STARTED", threadId, runId });
    const work = new WorkEmitter(send);
    const usage = new RunUsage();
    let interrupts: AgentInterrupt[] = [];
    const out: RunOutput = {
      startMessage: () => {
        work.closeReasoning();
        const messageId = `m-${randomUUID()}`;
        send({ type: "TEXT_MESSAGE_START", messageId, role: "assistant" });
        return messageId;
      },
      delta: (messageId, delta) => send({ type: "TEXT_MESSAGE_CONTENT", messageId, delta }),
      endMessage: (messageId) => send({ type: "TEXT_MESSAGE_END", messageId }),
      ...work.output(),
      usage: (entry) => usage.add(entry),
      // The run pauses for people's answers: RUN_FINISHED outcome "interrupt"; the client's next POST carries `resume`.
      interrupt: (list) => { interrupts = list; },
    };
    try {
      await brain.run(run, out, controller.signal, { threadId, runId });
      work.closeReasoning();
      send({ type: "RUN_FINISHED", threadId, runId, ...usage.field(), ...(interrupts.length > 0 ? { outcome: { type: "interrupt", interrupts } } : {}) });
    } catch (err) {
      if (err instanceof AgentRunError) send({ type: "RUN_ERROR", code: err.code, message: err.userMessage, retryable: err.retryable, ...usage.field() });
      else if (!controller.signal.aborted) {
        log.error({ err, runId }, "reference agent: the run failed");
        send({ type: "RUN_ERROR", code: "internal", message: "The agent failed to answer.", ...usage.field() });
      }
    }
    res.end();
  };
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const hostPart = opts.host.includes(":") ? `[${opts.host}]` : opts.host;
  const url = `http://${hostPart}:${(server.address() as AddressInfo).port}/`;
  log.info({ url }, "reference agent serving AG-UI over HTTP");
  return {
    url,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
