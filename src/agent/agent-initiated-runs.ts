// Agent-initiated runs: buffered until RUN_FINISHED, handed to the registered handler once (dedupe on
// runId), and a cumulative ack advanced only over frames that are durably handled.
import type { Logger } from "pino";
import type { AgentInitiatedHandler, AgentInitiatedOutcome, AgentInitiatedRun, LinkStats } from "./link-types";
import { BoundedSet, clipForLog } from "./link-util";
import type { RunEvent } from "./run-events";

/** The envelope of an event frame. */
export interface EventEnvelope {
  seq: number;
  threadId: string;
  runId: string;
  proactive?: boolean | undefined;
}

export interface AgentInitiatedRunsDeps {
  logger: Logger;
  maxBufferedRuns: number;
  maxTextBytes: number;
  rememberedRunIds: number;
  stats: LinkStats;
  /** Persist `lastSeq: seq` for the connection `epoch`, then send `ack`. Resolves false when not done. */
  commitAck(epoch: number, seq: number): Promise<boolean>;
  sendNack(epoch: number, seq: number, reason: string, permanent: boolean): void;
}

interface BufferedRun {
  runId: string;
  threadId: string;
  proactive: boolean;
  messages: string[];
  open: Map<string, string>;
  seqs: number[];
  bytes: number;
}

type Outcome = AgentInitiatedOutcome | "failed";

function isOutcome(value: unknown): value is AgentInitiatedOutcome {
  if (value === "handled") return true;
  if (typeof value !== "object" || value === null) return false;
  const v = value as { nack?: unknown; reason?: unknown; permanent?: unknown };
  return v.nack === true && typeof v.reason === "string" && typeof v.permanent === "boolean";
}

export class AgentInitiatedRuns {
  private handler?: AgentInitiatedHandler;
  private epoch = 0;
  private readonly buffers = new Map<string, BufferedRun>();
  /** Seqs of agent-initiated frames on this connection that are not handled yet. */
  private readonly pending = new Set<number>();
  private maxSeen = 0;
  /** Highest seq an ack was requested for on this connection. */
  private committed = 0;
  private readonly handled: BoundedSet<string>;
  private readonly inFlight = new Map<string, Promise<Outcome>>();

  constructor(private readonly deps: AgentInitiatedRunsDeps) {
    this.handled = new BoundedSet(deps.rememberedRunIds);
  }

  setHandler(handler: AgentInitiatedHandler): void {
    this.handler = handler;
  }

  /** A new connection is ready; `baseSeq` is what the agent already knows we handled. */
  resetConnection(epoch: number, baseSeq: number): void {
    this.epoch = epoch;
    this.buffers.clear();
    this.pending.clear();
    this.maxSeen = baseSeq;
    this.committed = baseSeq;
  }

  /** The connection dropped: partial runs are forgotten (the agent replays unacked frames). */
  connectionLost(): void {
    this.epoch = -1;
    this.buffers.clear();
    this.pending.clear();
  }

  /** A frame that needs no handling (a bot-started run's): it may be covered by the next ack. */
  noteHandled(seq: number): void {
    if (seq > this.maxSeen) this.maxSeen = seq;
  }

  onFrame(frame: EventEnvelope, events: readonly RunEvent[]): void {
    const { runId, seq } = frame;
    if (seq > this.maxSeen) this.maxSeen = seq;
    if (this.handled.has(runId)) {
      // Replay of a run already handled: not delivered again, but acked again.
      if (events.some((e) => e.type === "RUN_FINISHED" || e.type === "RUN_ERROR")) this.maybeAck();
      return;
    }
    this.pending.add(seq);
    const buf = this.bufferFor(frame);
    buf.seqs.push(seq);
    if (frame.proactive === true) buf.proactive = true;
    for (const event of events) {
      if (this.buffers.get(runId) !== buf) return; // dropped or delivered by an earlier event of this frame
      this.applyEvent(buf, event);
    }
  }

  private applyEvent(buf: BufferedRun, event: RunEvent): void {
    switch (event.type) {
      case "TEXT_MESSAGE_START":
        if (!buf.open.has(event.messageId)) buf.open.set(event.messageId, "");
        return;
      case "TEXT_MESSAGE_CONTENT":
        buf.open.set(event.messageId, (buf.open.get(event.messageId) ?? "") + event.delta);
        this.grew(buf, Buffer.byteLength(event.delta));
        return;
      case "MESSAGES_SNAPSHOT":
        for (const { messageId, text } of event.texts) {
          const before = buf.open.get(messageId);
          buf.open.set(messageId, text);
          this.grew(buf, Buffer.byteLength(text) - (before === undefined ? 0 : Buffer.byteLength(before)));
        }
        return;
      case "TEXT_MESSAGE_END": {
        const text = buf.open.get(event.messageId);
        if (text !== undefined) {
          buf.messages.push(text);
          buf.open.delete(event.messageId);
        }
        return;
      }
      case "RUN_FINISHED":
        this.buffers.delete(buf.runId);
        if (event.outcome === "cancelled") return this.discard(buf, "cancelled");
        for (const text of buf.open.values()) buf.messages.push(text);
        this.deliver(buf);
        return;
      case "RUN_ERROR":
        this.buffers.delete(buf.runId);
        this.discard(buf, event.code);
        return;
      case "ATTACHMENT":
        this.deps.logger.warn({ runId: clipForLog(buf.runId), threadId: clipForLog(buf.threadId) },
          "an agent-initiated run sent a file; files are posted only in answers to a person, so it is not posted");
        return;
      default:
        return;
    }
  }

  private grew(buf: BufferedRun, bytes: number): void {
    buf.bytes += bytes;
    if (buf.bytes > this.deps.maxTextBytes) this.dropTooLarge(buf);
  }

  private discard(buf: BufferedRun, code: string): void {
    this.deps.logger.warn({ runId: clipForLog(buf.runId), threadId: clipForLog(buf.threadId), code },
      "agent-initiated run ended without finishing; nothing to deliver");
    this.handled.add(buf.runId);
    this.resolveSeqs(buf.seqs);
  }

  private bufferFor(frame: EventEnvelope): BufferedRun {
    const existing = this.buffers.get(frame.runId);
    if (existing) return existing;
    if (this.buffers.size >= this.deps.maxBufferedRuns) {
      const oldest = this.buffers.values().next();
      if (!oldest.done) {
        const victim = oldest.value;
        this.buffers.delete(victim.runId);
        this.deps.logger.warn({ runId: clipForLog(victim.runId) }, "too many open agent-initiated runs; dropped the oldest for now");
        this.deps.sendNack(this.epoch, Math.max(...victim.seqs), "overloaded", false);
      }
    }
    const buf: BufferedRun = {
      runId: frame.runId,
      threadId: frame.threadId,
      proactive: false,
      messages: [],
      open: new Map(),
      seqs: [],
      bytes: 0,
    };
    this.buffers.set(frame.runId, buf);
    return buf;
  }

  private dropTooLarge(buf: BufferedRun): void {
    this.deps.logger.error({ runId: clipForLog(buf.runId), bytes: buf.bytes }, "agent-initiated run text too large; rejected");
    this.buffers.delete(buf.runId);
    this.handled.add(buf.runId);
    this.deps.sendNack(this.epoch, Math.max(...buf.seqs), "too_large", true);
    this.resolveSeqs(buf.seqs);
  }

  private deliver(buf: BufferedRun): void {
    const epoch = this.epoch;
    const handler = this.handler;
    if (!handler) {
      this.deps.logger.warn({ runId: clipForLog(buf.runId) }, "agent-initiated run finished but no handler is registered; not acked");
      return;
    }
    const run: AgentInitiatedRun = {
      runId: buf.runId,
      threadId: buf.threadId,
      proactive: buf.proactive,
      messages: buf.messages,
      seqs: buf.seqs,
    };
    const outcome = this.inFlight.get(run.runId) ?? this.invoke(handler, run);
    void outcome.then((o) => this.apply(epoch, buf, o));
  }

  private invoke(handler: AgentInitiatedHandler, run: AgentInitiatedRun): Promise<Outcome> {
    const log = this.deps.logger;
    const p = (async (): Promise<Outcome> => {
      try {
        const result: unknown = await handler(run);
        if (isOutcome(result)) return result;
        log.error({ runId: clipForLog(run.runId) }, "agent-initiated handler returned something unexpected; not acked");
        return "failed";
      } catch (err) {
        log.error({ err, runId: clipForLog(run.runId) }, "agent-initiated handler failed; not acked (the agent will redeliver)");
        return "failed";
      }
    })();
    this.inFlight.set(run.runId, p);
    void p.then((o) => {
      this.inFlight.delete(run.runId);
      if (o === "handled") {
        this.handled.add(run.runId);
        this.deps.stats.agentRunsDelivered += 1;
      }
    });
    return p;
  }

  private apply(epoch: number, buf: BufferedRun, outcome: Outcome): void {
    if (outcome === "failed") return;
    if (outcome === "handled") {
      this.handled.add(buf.runId);
      if (epoch === this.epoch) this.resolveSeqs(buf.seqs);
      return;
    }
    if (epoch !== this.epoch) return;
    this.deps.sendNack(epoch, Math.max(...buf.seqs), outcome.reason, outcome.permanent);
    if (outcome.permanent) this.resolveSeqs(buf.seqs);
  }

  private resolveSeqs(seqs: number[]): void {
    for (const s of seqs) this.pending.delete(s);
    this.maybeAck();
  }

  private maybeAck(): void {
    let target = this.maxSeen;
    for (const s of this.pending) if (s - 1 < target) target = s - 1;
    if (target <= this.committed) return;
    const previous = this.committed;
    const epoch = this.epoch;
    this.committed = target;
    void this.deps.commitAck(epoch, target).then(
      (ok) => {
        if (!ok && epoch === this.epoch) this.committed = Math.min(this.committed, previous);
      },
      (err: unknown) => {
        this.deps.logger.error({ err }, "ack commit failed");
        if (epoch === this.epoch) this.committed = Math.min(this.committed, previous);
      },
    );
  }
}
