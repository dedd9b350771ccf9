// One bot connection to the reference agent: hello first, then runs (one per thread at a time),
// cancel, ack and nack. Bad frames are answered with an `error` frame (code bad_frame). A bot that offers
// protocol v2 (`hello.protocols`) gets it: AG-UI 1.0 events and RunAgentInput; any other bot gets v1.
import { randomUUID } from "node:crypto";
import WebSocket from "ws";
import type { Logger } from "pino";
import { PROTOCOL, parseBotFrame } from "../agent/protocol";
import type { AgentEvent, EventFrame, RunInput } from "../agent/protocol";
import { PROTOCOL_V2, fromRunAgentInput, toAguiEvent, type AgentInterrupt, type ProtocolVersion } from "../agent/protocol-v2";
import type { AgentCore, CoreConnection } from "./agent-core";
import { AgentRunError, type AgentBrain, type RunOutput } from "./brain";
import { RunUsage } from "./run-usage";
import { WorkEmitter } from "./work-emitter";

interface ActiveRun {
  threadId: string;
  controller: AbortController;
  /** The run already ended for the bot (cancelled); whatever the brain does next is dropped. */
  ended: boolean;
  /** Tokens its model requests used so far (v2 bots get them on RUN_FINISHED / RUN_ERROR). */
  usage: RunUsage;
}

export class AgentConnection implements CoreConnection {
  sessionId: string | undefined;
  /** The protocol this connection speaks (decided by the bot's hello). */
  version: ProtocolVersion = 1;
  private helloSeen = false;
  private readonly runs = new Map<string, ActiveRun>();
  private livenessTimer?: NodeJS.Timeout;

  constructor(
    private readonly ws: WebSocket,
    readonly label: string,
    private readonly core: AgentCore,
    private readonly brain: AgentBrain,
    private readonly log: Logger,
    /** The bot pings at least this often; silence for 3× means it is gone. */
    private readonly heartbeatMs: number,
  ) {
    ws.on("message", (data, isBinary) => {
      this.touch();
      try {
        if (isBinary) return this.badFrame("binary frames are not part of the protocol");
        const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
        this.onText(buf.toString("utf8"));
      } catch (err) {
        this.log.error({ err }, "reference agent: frame handling failed");
      }
    });
    ws.on("ping", () => this.touch());
    ws.on("error", (err) => this.log.warn({ err: { message: err.message }, conn: label }, "reference agent: socket error"));
    ws.on("close", () => this.onClose());
    this.touch();
  }

  /** An event frame in this connection's protocol (v2: the event as AG-UI 1.0). */
  sendEvent(frame: EventFrame): boolean {
    if (this.version === 1) return this.sendJson(frame);
    const event = toAguiEvent(frame.event, frame.threadId, frame.runId);
    return event === undefined ? false : this.sendJson({ ...frame, event });
  }

  sendJson(frame: object): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame), (err) => {
      if (err) this.log.debug({ err: { message: err.message } }, "reference agent: send failed");
    });
    return true;
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code, reason);
  }

  terminate(): void {
    this.ws.terminate();
  }

  private touch(): void {
    if (this.livenessTimer) clearTimeout(this.livenessTimer);
    this.livenessTimer = setTimeout(() => {
      this.log.warn({ conn: this.label }, "reference agent: the bot went silent; dropping the connection");
      this.ws.terminate();
    }, this.heartbeatMs * 3);
    this.livenessTimer.unref();
  }

  private badFrame(message: string, runId?: string): void {
    this.sendJson({ op: "error", ...(runId !== undefined ? { runId } : {}), code: "bad_frame", message });
  }

  private onText(raw: string): void {
    const parsed = parseBotFrame(raw, this.version);
    if (!parsed.ok) return this.badFrame(parsed.error, parsed.runId);
    const frame = parsed.frame;
    if (frame.op === "hello") {
      if (this.helloSeen) return this.badFrame("hello was already received on this connection");
      this.helloSeen = true;
      if (frame.protocol !== PROTOCOL) {
        this.sendJson({ op: "error", code: "unsupported_protocol", message: `this agent speaks ${PROTOCOL} and ${PROTOCOL_V2}` });
        this.close(4002, "unsupported protocol");
        return;
      }
      if (frame.protocols?.includes(PROTOCOL_V2)) this.version = 2;
      void this.core.hello(this, frame.resume).catch((err: unknown) => {
        this.log.error({ err }, "reference agent: hello failed");
        this.close(1011, "internal error");
      });
      return;
    }
    if (this.sessionId === undefined) return this.badFrame("send hello first", "runId" in frame ? frame.runId : undefined);
    switch (frame.op) {
      case "run": {
        const input = this.version === 2 ? fromRunAgentInput(frame.input as Parameters<typeof fromRunAgentInput>[0])
          : frame.input as RunInput;
        if (input === undefined) return this.badFrame("the run has no user message", frame.runId);
        return this.startRun(frame.threadId, frame.runId, input);
      }
      case "cancel":
        return this.cancelRun(frame.runId);
      case "ack":
        void this.core.ack(this, frame.seq).catch((err: unknown) => this.log.error({ err }, "reference agent: ack failed"));
        return;
      case "nack":
        void this.core
          .nack(this, frame.seq, frame.reason, frame.permanent)
          .catch((err: unknown) => this.log.error({ err }, "reference agent: nack failed"));
        return;
    }
  }

  private emit(runId: string, threadId: string, event: AgentEvent): void {
    this.core.sendEvent(this, { op: "event", threadId, runId, event });
  }

  private startRun(threadId: string, runId: string, input: RunInput): void {
    if (this.runs.has(runId)) return this.badFrame("a run with this runId is already in progress", runId);
    if (this.core.threads.has(threadId)) {
      this.emit(runId, threadId, {
        type: "RUN_ERROR",
        code: "thread_busy",
        message: "This conversation is still busy with an earlier message.",
        retryable: true,
      });
      return;
    }
    const run: ActiveRun = { threadId, controller: new AbortController(), ended: false, usage: new RunUsage() };
    const usage = (): ReturnType<RunUsage["field"]> => (this.version === 2 ? run.usage.field() : {});
    this.runs.set(runId, run);
    this.core.threads.set(threadId, runId);
    this.emit(runId, threadId, { type: "RUN_STARTED" });
    const live = (): boolean => !run.ended && !run.controller.signal.aborted;
    const work = new WorkEmitter((event) => {
      if (live()) this.core.sendAgui(this, { op: "event", threadId, runId, event });
    });
    const out: RunOutput = {
      startMessage: () => {
        const messageId = `m-${randomUUID()}`;
        work.closeReasoning();
        if (live()) this.emit(runId, threadId, { type: "TEXT_MESSAGE_START", messageId });
        return messageId;
      },
      delta: (messageId, delta) => {
        if (live()) this.emit(runId, threadId, { type: "TEXT_MESSAGE_CONTENT", messageId, delta });
      },
      endMessage: (messageId) => {
        if (live()) this.emit(runId, threadId, { type: "TEXT_MESSAGE_END", messageId });
      },
      ...work.output(),
      usage: (entry) => run.usage.add(entry),
      // Only a v2 bot understands interrupts; for a v1 bot a tool that needs approval is refused (the model is told).
      ...(this.version === 2 ? { interrupt: (list: AgentInterrupt[]) => { interrupts = list; } } : {}),
    };
    let interrupts: AgentInterrupt[] | undefined;
    let running: Promise<void>;
    try {
      running = this.brain.run(input, out, run.controller.signal, { threadId, runId });
    } catch (err) {
      running = Promise.reject(err);
    }
    running.then(
      () => {
        work.closeReasoning();
        if (!live()) return;
        if (interrupts !== undefined && interrupts.length > 0) {
          this.core.sendAgui(this, { op: "event", threadId, runId, event: { type: "RUN_FINISHED", threadId, runId, outcome: { type: "interrupt", interrupts }, ...usage() } });
        } else {
          this.emit(runId, threadId, { type: "RUN_FINISHED", ...usage() });
        }
      },
      (err: unknown) => {
        if (!live()) return;
        if (err instanceof AgentRunError) {
          this.emit(runId, threadId, { type: "RUN_ERROR", code: err.code, message: err.userMessage, retryable: err.retryable, ...usage() });
        } else {
          this.log.error({ err, runId }, "reference agent: the run failed");
          this.emit(runId, threadId, { type: "RUN_ERROR", code: "internal", message: "The agent failed to answer.", retryable: false, ...usage() });
        }
      },
    )
      .finally(() => this.endRun(runId, run))
      .catch((err: unknown) => this.log.error({ err, runId }, "reference agent: run bookkeeping failed"));
  }

  private endRun(runId: string, run: ActiveRun): void {
    run.ended = true;
    if (this.runs.get(runId) === run) this.runs.delete(runId);
    if (this.core.threads.get(run.threadId) === runId) this.core.threads.delete(run.threadId);
  }

  private cancelRun(runId: string): void {
    const run = this.runs.get(runId);
    if (!run || run.ended) return;
    this.emit(runId, run.threadId, { type: "RUN_ERROR", code: "cancelled", message: "The run was cancelled.", retryable: false,
      ...(this.version === 2 ? run.usage.field() : {}) });
    run.controller.abort();
    this.endRun(runId, run);
  }

  private onClose(): void {
    if (this.livenessTimer) clearTimeout(this.livenessTimer);
    for (const [runId, run] of [...this.runs]) {
      run.controller.abort();
      this.endRun(runId, run);
    }
    this.core.detach(this);
  }
}
