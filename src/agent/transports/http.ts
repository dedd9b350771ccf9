// Plain AG-UI over HTTP + SSE through @ag-ui/client's HttpAgent: one POST per run, the SSE events parsed by the
// client, checked with AG-UI's own schemas and decoded exactly as the WebSocket envelope's (AguiDecoder, BotRun),
// so an answer looks the same whichever way it came. The run's AbortController is the request's: /stop, a
// deadline or shutdown closes the connection, and the agent sees it closed. HTTP agents are usually stateless:
// the bot sends the conversation so far and the agent's last state (history.ts, agent-state.ts) and records each
// finished run in it. The events go through AguiDecoder (which expands *_CHUNK events as @ag-ui/client's
// transformChunks does), not through HttpAgent.runAgent's pipeline, which would keep its own copy of messages and
// state in the HttpAgent: `agent.run` is the plain request and its event stream.
import { HttpAgent } from "@ag-ui/client";
import type { Logger } from "pino";
import type { MediaPartOptions } from "../../media/parts";
import { AgentState } from "../agent-state";
import { BotRun } from "../bot-run";
import type { ConversationHistory, HistoryMessage } from "../history";
import { RunTranscript } from "../run-transcript";
import type { AgentInitiatedHandler, LinkState, LinkStats, RunObserver, RunRequest, RunResult } from "../link-types";
import { RunFrameSchema } from "../protocol";
import { envelopeMismatch, RunAgentInputSchema, V2EventSchema, type AgentCapabilities, type ProtocolVersion, type RunAgentInput } from "../protocol-v2";
import { AguiDecoder } from "../run-events";
import { runFrameV2 } from "../run-input";
import { failureOf, statusCheckingFetch, type FetchFn } from "./http-fetch";
import type { AgentTransport } from "./transport";

export interface HttpTransportOptions {
  /** The agent's name (its history is kept under it). */
  name: string;
  url: string;
  token?: string;
  capabilities?: AgentCapabilities;
  logger: Logger;
  history: ConversationHistory;
  runStartTimeoutMs: number;
  runIdleTimeoutMs: number;
  runDeadlineMs: number;
  /** Attachments inline up to this size in the request body (and MEDIA_INLINE_MAX_BYTES), else by one-time URL. */
  maxBodyBytes: number;
  media?: MediaPartOptions;
  /** Injected for tests; default the global fetch. */
  fetch?: FetchFn;
}

export class HttpAgentTransport implements AgentTransport {
  private current: LinkState = "connecting";
  private readonly listeners = new Set<(state: LinkState) => void>();
  private readonly counters: LinkStats = { reconnects: 0, framesRejected: 0, duplicatesIgnored: 0, acksSent: 0, nacksSent: 0, agentRunsDelivered: 0 };
  private readonly inFlight = new Set<AbortController>();
  private readonly fetchFn: FetchFn;

  constructor(private readonly opts: HttpTransportOptions) {
    this.fetchFn = statusCheckingFetch(opts.fetch);
  }

  start(): Promise<void> {
    if (this.current === "connecting") this.setState("up"); // nothing to connect: each run is its own request
    return Promise.resolve();
  }

  stop(): Promise<void> {
    for (const controller of this.inFlight) controller.abort();
    this.setState("stopped");
    return Promise.resolve();
  }

  state(): LinkState {
    return this.current;
  }

  onStateChange(cb: (state: LinkState) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  stats(): LinkStats {
    return { ...this.counters };
  }

  protocol(): ProtocolVersion {
    return 2;
  }

  capabilities(): AgentCapabilities | undefined {
    return this.opts.capabilities;
  }

  onAgentInitiated(_handler: AgentInitiatedHandler): void {
    // AG-UI over HTTP has no agent-initiated runs: the agent only ever answers a POST.
  }

  async run(req: RunRequest, observer: RunObserver, signal?: AbortSignal): Promise<RunResult> {
    try {
      return await this.runInner(req, observer, signal);
    } catch (err) {
      this.opts.logger.error({ err, runId: req.runId }, "run failed unexpectedly");
      return { ok: false, failure: { kind: "link_lost", detail: "internal error while running" } };
    }
  }

  private async runInner(req: RunRequest, observer: RunObserver, signal?: AbortSignal): Promise<RunResult> {
    const calledAt = Date.now();
    if (signal?.aborted) return { ok: false, failure: { kind: "cancelled", detail: "cancelled before it started" } };
    if (this.current === "stopped") return { ok: false, failure: { kind: "unreachable", detail: "the agent is stopped" } };
    const v1 = RunFrameSchema.safeParse({ op: "run", ...req });
    if (!v1.success) return { ok: false, failure: { kind: "bad_frame", detail: `invalid run input: ${v1.error.issues[0]?.message ?? "?"}` } };
    const { name, history, logger } = this.opts;
    const past = await history.load(name, req.threadId);
    const frame = runFrameV2(req.threadId, req.runId, v1.data.input, this.opts.maxBodyBytes, this.opts.media);
    const input = RunAgentInputSchema.safeParse({ ...frame.input, messages: [...past.messages, ...frame.input.messages],
      ...(past.state !== undefined ? { state: past.state } : {}) });
    if (!input.success) return { ok: false, failure: { kind: "bad_frame", detail: `invalid run input: ${input.error.issues[0]?.message ?? "?"}` } };

    const controller = new AbortController();
    this.inFlight.add(controller);
    const transcript = new RunTranscript(); // what the run said, tool calls included, for the history
    const recording: RunObserver = { ...observer,
      onWork: (event) => {
        transcript.work(event);
        observer.onWork?.(event);
      },
      onTextMessage: (messageId, text) => {
        transcript.text(messageId, text);
        return observer.onTextMessage(messageId, text);
      } };
    const run = new BotRun(req.runId, recording, {
      logger, threadId: req.threadId, runStartTimeoutMs: this.opts.runStartTimeoutMs, runIdleTimeoutMs: this.opts.runIdleTimeoutMs,
      deadlineInMs: this.opts.runDeadlineMs - (Date.now() - calledAt),
      sendCancel: () => controller.abort(),
      onSettled: () => controller.abort(), // whatever ended the run, its request ends with it
    });
    const onAbort = (): void => run.cancel("cancelled by the caller");
    signal?.addEventListener("abort", onAbort, { once: true });
    const agent = new HttpAgent({ url: this.opts.url, headers: this.opts.token ? { Authorization: `Bearer ${this.opts.token}` } : {}, fetch: this.fetchFn });
    agent.abortController = controller;
    const decoder = new AguiDecoder();
    const state = new AgentState(past.state, logger.child({ threadId: req.threadId, runId: req.runId }));
    run.sent();
    const subscription = agent.run(input.data).subscribe({
      next: (raw) => {
        const parsed = V2EventSchema.safeParse(raw);
        if (!parsed.success) {
          this.counters.framesRejected += 1;
          return run.failBadFrame(`malformed event from the agent: ${parsed.error.issues[0]?.message ?? "?"}`);
        }
        if (parsed.data.kind === "unknown") return run.onEvent({ type: "UNKNOWN", originalType: parsed.data.type });
        const mismatch = envelopeMismatch(parsed.data, req.threadId, req.runId);
        if (mismatch !== undefined) return run.failBadFrame(mismatch);
        state.follow(parsed.data.event);
        const decoded = decoder.decode(parsed.data.event);
        if (!decoded.ok) return run.failBadFrame(decoded.error);
        for (const event of decoded.events) run.onEvent(event);
      },
      error: (err: unknown) => run.failUnsent(failureOf(err)),
      complete: () => run.linkLost("the agent's event stream ended before the run finished"),
    });
    try {
      const result = await run.done;
      if (result.ok) {
        const asked: HistoryMessage[] = frame.input.messages.map((m) => ({ id: m.id, role: "user", content: textOf(m.content),
          ...(typeof m.name === "string" ? { name: m.name } : {}) }));
        const replaces = v1.data.input.messages.flatMap((m) => (typeof m["replaces"] === "string" ? [m["replaces"]] : []));
        await history.append(name, req.threadId, [...asked, ...transcript.recorded], replaces, state.updated)
          .catch((err: unknown) => logger.warn({ err: String(err), threadId: req.threadId }, "could not record the conversation history"));
      }
      return result;
    } finally {
      subscription.unsubscribe();
      signal?.removeEventListener("abort", onAbort);
      this.inFlight.delete(controller);
    }
  }

  private setState(state: LinkState): void {
    if (this.current === state) return;
    this.current = state;
    for (const cb of [...this.listeners]) cb(state);
  }
}

type UserContent = RunAgentInput["messages"][number]["content"];

/** A user message as the history keeps it: its text parts, attachments as their placeholders. */
function textOf(content: UserContent): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((part) => (part.type === "text" ? part.text : `[${part.type}]`)).join("\n");
}
