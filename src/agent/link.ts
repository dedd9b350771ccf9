// The bot's one WebSocket to the agent, multiplexing every thread (protocol v1, see protocol.ts and
// runbook/agent-protocol.md). The connection itself lives in AgentSocket; this file routes event frames
// to bot-started runs (BotRun) or to agent-initiated runs (AgentInitiatedRuns) and decides when to ack; the
// session record (sessionId + lastSeq), persisted before every ack, lives in LinkSession.
import type { Logger } from "pino";
import { AgentInitiatedRuns } from "./agent-initiated-runs";
import { BotRun } from "./bot-run";
import { LinkSession } from "./link-session";
import { AgentSocket, type ConnectionFrame } from "./link-socket";
import type {
  AgentInitiatedHandler,
  AgentLinkOptions,
  LinkState,
  LinkStats,
  RunObserver,
  RunRequest,
  RunResult,
} from "./link-types";
import { LINK_DEFAULTS } from "./link-types";
import { BoundedSet, clipForLog, unrefTimer } from "./link-util";
import { RunFrameSchema, RunFrameV2Schema, versionOf } from "./protocol";
import type { EventFrame, EventFrameV2, ReadyFrame } from "./protocol";
import type { AgentCapabilities, ProtocolVersion } from "./protocol-v2";
import { runFrameV2, v1Frame } from "./run-input";
import { fastRunFrameV1 } from "./frame-fast-path";
import { LinkDecoding, type WireEvent } from "./link-decode";
import type { AgentTransport } from "./transports/transport";

export * from "./link-types";


export class AgentLink implements AgentTransport {
  private readonly log: Logger;
  private readonly socket: AgentSocket;
  private started = false;
  private stopped = false;
  private readonly session: LinkSession;
  /** The session of the connection that is up. */
  private sessionId: string | undefined;
  /** Highest event seq seen on the current connection (duplicates at or below it are ignored). */
  private lastSeen = 0;
  /** The last seq seen per run in flight. */
  private readonly runSeqs = new WeakMap<object, number>();
  private readonly runs = new Map<string, BotRun>();
  private readonly finishedRuns: BoundedSet<string>;
  private readonly inbound: AgentInitiatedRuns;
  /** The protocol and capabilities of the connection that is up (v1 until a ready says otherwise). */
  private version: ProtocolVersion = 1;
  private agentCapabilities: AgentCapabilities | undefined;
  private readonly decoding: LinkDecoding;
  private readonly statsData: LinkStats = {
    reconnects: 0,
    framesRejected: 0,
    duplicatesIgnored: 0,
    acksSent: 0,
    nacksSent: 0,
    agentRunsDelivered: 0,
  };

  constructor(private readonly opts: AgentLinkOptions) {
    this.log = opts.logger;
    this.session = new LinkSession(opts.sessionStore, this.log);
    this.decoding = new LinkDecoding(this.log, this.statsData);
    const remembered = opts.rememberedRunIds ?? LINK_DEFAULTS.rememberedRunIds;
    this.finishedRuns = new BoundedSet(remembered);
    this.socket = new AgentSocket(opts, this.log, this.statsData, {
      loadResume: () => this.session.forResume(),
      onReady: (epoch, frame) => this.onReady(epoch, frame),
      onFrame: (epoch, frame) => this.onFrame(epoch, frame),
      onMalformed: (error, runId) => {
        const run = runId === undefined ? undefined : this.runs.get(runId);
        run?.failBadFrame(`malformed frame from the agent: ${error}`);
      },
      onGone: (_epoch, code) => {
        this.inbound.connectionLost();
        this.failRuns(`the link to the agent dropped (close ${code})`);
      },
    });
    this.inbound = new AgentInitiatedRuns({
      logger: this.log,
      maxBufferedRuns: opts.maxBufferedAgentRuns ?? LINK_DEFAULTS.maxBufferedAgentRuns,
      maxTextBytes: opts.maxAgentRunTextBytes ?? LINK_DEFAULTS.maxAgentRunTextBytes,
      rememberedRunIds: remembered,
      stats: this.statsData,
      commitAck: (epoch, seq) => this.commitAck(epoch, seq),
      sendNack: (epoch, seq, reason, permanent) => {
        if (epoch !== this.socket.upEpoch()) return;
        if (this.socket.send({ op: "nack", seq, reason, permanent })) this.statsData.nacksSent += 1;
      },
    });
  }

  // ------------------------------------------------------------------ public API

  /** Start connecting; resolves when the first attempt is up or has failed (retries go on). Never rejects. */
  start(): Promise<void> {
    if (this.started || this.stopped) return Promise.resolve();
    this.started = true;
    const settled = new Promise<void>((resolve) => {
      const off = this.socket.onStateChange((s) => {
        if (s !== "connecting") {
          off();
          resolve();
        }
      });
    });
    this.socket.start();
    return settled;
  }

  /** Close the link, clear every timer, fail in-flight runs (link_lost). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.failRuns("the link to the agent was stopped");
    await this.socket.stop();
    await this.session.settled();
  }

  state(): LinkState {
    return this.socket.state();
  }

  /** Returns an unsubscribe function. */
  onStateChange(cb: (state: LinkState) => void): () => void {
    return this.socket.onStateChange(cb);
  }

  stats(): LinkStats {
    return { ...this.statsData };
  }

  /** The protocol of the connection that is up, or of the last one. */
  protocol(): ProtocolVersion {
    return this.version;
  }

  /** What a v2 agent declared in its ready (AG-UI AgentCapabilities); undefined for v1 agents. */
  capabilities(): AgentCapabilities | undefined {
    return this.agentCapabilities;
  }

  /** The handler for agent-initiated runs; it must be idempotent on runId. */
  onAgentInitiated(handler: AgentInitiatedHandler): void {
    this.inbound.setHandler(handler);
  }

  /** True once the link is up; false after timeoutMs, on abort, or when stopped. */
  waitUntilUp(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.state() === "up") return Promise.resolve(true);
    if (this.stopped || signal?.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        off();
        signal?.removeEventListener("abort", finish);
        resolve(this.state() === "up");
      };
      const off = this.onStateChange((s) => {
        if (s === "up" || s === "stopped") finish();
      });
      const timer = unrefTimer(finish, timeoutMs);
      signal?.addEventListener("abort", finish, { once: true });
    });
  }

  /** Ask the agent to cancel a run (it answers with RUN_ERROR cancelled). False when the link is not up. */
  cancel(runId: string): boolean {
    return this.socket.send({ op: "cancel", runId });
  }

  /** Run one turn. Never rejects: every problem is a RunFailure. */
  async run(req: RunRequest, observer: RunObserver, signal?: AbortSignal): Promise<RunResult> {
    try {
      return await this.runInner(req, observer, signal);
    } catch (err) {
      this.log.error({ err, runId: req.runId }, "run failed unexpectedly");
      return { ok: false, failure: { kind: "link_lost", detail: "internal error while running" } };
    }
  }

  // ------------------------------------------------------------------ runs

  private async runInner(req: RunRequest, observer: RunObserver, signal?: AbortSignal): Promise<RunResult> {
    const calledAt = Date.now();
    const fail = (kind: "unreachable" | "bad_frame" | "cancelled", detail: string): RunResult => ({
      ok: false,
      failure: { kind, detail },
    });
    if (signal?.aborted) return fail("cancelled", "cancelled before it started");
    if (this.stopped) return fail("unreachable", "the link to the agent is stopped");
    const fast = fastRunFrameV1(req.threadId, req.runId, req.input);
    const v1 = fast ? { success: true as const, data: fast } : RunFrameSchema.safeParse({ op: "run", ...req });
    if (!v1.success) return fail("bad_frame", `invalid run input: ${v1.error.issues[0]?.message ?? "?"}`);

    if (this.state() !== "up") {
      const up = await this.waitUntilUp(this.opts.runStartTimeoutMs, signal);
      if (signal?.aborted) return fail("cancelled", "cancelled before it started");
      if (!up) return fail("unreachable", "the agent could not be reached");
    }
    // v1 agents get the input as it is (attachments as placeholders); v2 agents an AG-UI RunAgentInput.
    let text = JSON.stringify(v1Frame(v1.data));
    if (this.version === 2) {
      const v2 = runFrameV2(req.threadId, req.runId, v1.data.input, this.opts.maxFrameBytes, this.opts.media);
      const checked = RunFrameV2Schema.safeParse(v2);
      if (!checked.success) return fail("bad_frame", `invalid run input: ${checked.error.issues[0]?.message ?? "?"}`);
      text = JSON.stringify(v2);
    }
    if (Buffer.byteLength(text) > this.opts.maxFrameBytes) return fail("bad_frame", "the run input is too large");
    if (this.runs.has(req.runId)) return fail("bad_frame", "a run with this runId is already in flight");

    const run = new BotRun(req.runId, observer, {
      logger: this.log,
      threadId: req.threadId,
      runStartTimeoutMs: this.opts.runStartTimeoutMs,
      runIdleTimeoutMs: this.opts.runIdleTimeoutMs,
      deadlineInMs: this.opts.runDeadlineMs - (Date.now() - calledAt),
      sendCancel: (runId) => void this.socket.send({ op: "cancel", runId }),
      onSettled: (runId) => {
        if (this.runs.get(runId) === run) this.runs.delete(runId);
        this.decoding.forget(runId);
        this.finishedRuns.add(runId);
      },
    });
    this.runs.set(req.runId, run);
    const onAbort = (): void => run.cancel("cancelled by the caller");
    signal?.addEventListener("abort", onAbort, { once: true });
    const sent = this.socket.sendText(text, undefined, () => run.linkLost("the run could not be sent"));
    if (sent) run.sent();
    else run.failUnsent({ kind: "link_lost", detail: "the link dropped before the run was sent" });
    try {
      return await run.done;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  private failRuns(detail: string): void {
    for (const run of [...this.runs.values()]) run.linkLost(detail);
  }

  // ------------------------------------------------------------------ session, frames

  private onReady(epoch: number, frame: ReadyFrame): void {
    this.version = versionOf(frame);
    this.agentCapabilities = this.version === 2 ? frame.capabilities : undefined;
    this.decoding.reset(this.version);
    const saved = this.session.last;
    const resumed = frame.resumed && saved?.sessionId === frame.sessionId;
    this.sessionId = frame.sessionId;
    this.lastSeen = resumed && saved ? saved.lastSeq : 0;
    if (!resumed) this.session.saveNew(frame.sessionId);
    this.inbound.resetConnection(epoch, this.lastSeen);
    this.log.info({ sessionId: frame.sessionId, resumed, lastSeq: this.lastSeen, protocol: this.version,
      capabilities: this.agentCapabilities }, "agent link up");
  }

  private onFrame(_epoch: number, cf: ConnectionFrame): void {
    const frame = cf.frame;
    if (frame.op === "ready") return;
    if (frame.op === "error") {
      const run = frame.runId === undefined ? undefined : this.runs.get(frame.runId);
      if (run) run.failBadFrame(`the agent rejected the run: ${frame.code}: ${frame.message}`);
      else this.log.warn({ code: clipForLog(frame.code), message: clipForLog(frame.message), runId: clipForLog(frame.runId) },
        "the agent reported an error");
      return;
    }
    this.onEvent(cf.version === 2 ? { version: 2, frame: cf.frame as EventFrameV2 } : { version: 1, frame: cf.frame as EventFrame });
  }

  private onEvent(wire: WireEvent): void {
    const frame = wire.frame;
    const run = this.runs.get(frame.runId);
    if (run) {
      // Our runs are never replayed: a duplicate only against the run's own frames, so one stray huge seq
      // elsewhere (an agent bug) cannot turn every later answer into "a duplicate".
      const previous = this.runSeqs.get(run);
      if (previous !== undefined && frame.seq <= previous) return this.duplicate(frame.seq, previous);
      this.runSeqs.set(run, frame.seq);
      if (frame.seq > this.lastSeen) this.lastSeen = frame.seq;
      this.inbound.noteHandled(frame.seq);
      const events = this.decoding.decode(wire);
      if (events === undefined) return run.failBadFrame("the agent sent an event that breaks the protocol");
      for (const event of events) run.onEvent(event);
      return;
    }
    if (frame.seq <= this.lastSeen) return this.duplicate(frame.seq, this.lastSeen);
    this.lastSeen = frame.seq;
    if (this.finishedRuns.has(frame.runId)) {
      this.inbound.noteHandled(frame.seq); // late frame of a run we already settled
      return;
    }
    const events = this.decoding.decode(wire);
    if (events !== undefined) this.inbound.onFrame(frame, events);
  }

  private duplicate(seq: number, lastSeen: number): void {
    this.statsData.duplicatesIgnored += 1;
    this.log.debug({ seq, lastSeen }, "duplicate event frame ignored");
  }

  /** Persist `{ sessionId, lastSeq: seq }`, then (only then) send the cumulative ack. */
  private commitAck(epoch: number, seq: number): Promise<boolean> {
    return this.session.saveThenAck(
      () => (epoch !== this.socket.upEpoch() || this.sessionId === undefined ? undefined : { sessionId: this.sessionId, lastSeq: seq }),
      () => {
        if (epoch !== this.socket.upEpoch() || !this.socket.send({ op: "ack", seq })) return false;
        this.statsData.acksSent += 1;
        return true;
      },
    );
  }
}
