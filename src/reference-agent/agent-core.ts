// State the reference agent shares across connections: sessions and their seq counters, the journal of
// unacked agent-initiated frames (replay on hello, forget on ack), and which thread has a run.
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { AgentEvent, EventFrame } from "../agent/protocol";
import { PROTOCOL_V2, type AgentCapabilities, type ProtocolVersion } from "../agent/protocol-v2";
import { twoChunks } from "./brain";
import type { AgentJournal, JournalEntry } from "./journal";

/** What the core needs of a connection. */
export interface CoreConnection {
  readonly label: string;
  sessionId: string | undefined;
  /** The protocol the connection speaks (the bot's hello decided). */
  readonly version: ProtocolVersion;
  sendJson(frame: object): boolean;
  /** An event frame, in the connection's protocol. */
  sendEvent(frame: EventFrame): boolean;
  close(code: number, reason: string): void;
}

interface Session {
  id: string;
  nextSeq: number;
  conn: CoreConnection | undefined;
}

type UnsentFrame = Omit<EventFrame, "seq">;

/**
 * What the reference agent tells a v2 bot it can do (AG-UI AgentCapabilities): text out; every kind of attachment
 * in, which its brains read as a description (the echo brain names it, the LLM's history keeps "[image: cat.png]").
 */
export const REFERENCE_AGENT_CAPABILITIES: AgentCapabilities = {
  identity: { name: "matrix-agent-bot reference agent", type: "reference" },
  transport: { streaming: true, websocket: true, resumable: true },
  multimodal: { input: { image: true, audio: true, video: true, pdf: true, file: true }, output: { image: false, audio: false } },
  humanInTheLoop: { interrupts: true },
};

/** The reference agent's capabilities when its brain reads only some kinds of attachment (the LLM brain). */
export function capabilitiesReading(input: NonNullable<NonNullable<AgentCapabilities["multimodal"]>["input"]> | undefined): AgentCapabilities {
  return input === undefined ? REFERENCE_AGENT_CAPABILITIES
    : { ...REFERENCE_AGENT_CAPABILITIES, multimodal: { ...REFERENCE_AGENT_CAPABILITIES.multimodal, input } };
}

export class AgentCore {
  private readonly sessions = new Map<string, Session>();
  /** threadId → runId of the run in progress there. */
  readonly threads = new Map<string, string>();
  /** The connection that said hello last and is still open: agent-initiated frames go there. */
  private active: CoreConnection | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly journal: AgentJournal,
    private readonly log: Logger,
    private readonly heartbeatMs: number,
    private readonly capabilities: AgentCapabilities = REFERENCE_AGENT_CAPABILITIES,
  ) {}

  /** Journal operations run one at a time, in order. */
  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Send an event frame in the connection's session: it takes the session's next seq. */
  sendEvent(conn: CoreConnection, frame: UnsentFrame): number | undefined {
    return this.numbered(conn, (seq) => conn.sendEvent({ ...frame, seq }));
  }

  /** An AG-UI event sent as it is (v2 connections only: tool calls, reasoning), with the session's next seq. */
  sendAgui(conn: CoreConnection, frame: Omit<UnsentFrame, "event"> & { event: Record<string, unknown> }): number | undefined {
    if (conn.version !== 2) return undefined;
    return this.numbered(conn, (seq) => conn.sendJson({ ...frame, seq }));
  }

  private numbered(conn: CoreConnection, send: (seq: number) => void): number | undefined {
    const session = conn.sessionId === undefined ? undefined : this.sessions.get(conn.sessionId);
    if (!session || session.conn !== conn) return undefined;
    const seq = session.nextSeq++;
    send(seq);
    return seq;
  }

  hello(conn: CoreConnection, resume: { sessionId: string; lastSeq: number } | undefined): Promise<void> {
    return this.serialize(async () => {
      let entries = await this.journal.list();
      const known = resume === undefined ? undefined : this.sessions.get(resume.sessionId) ?? (await this.restored(resume, entries));
      const session: Session = known ?? { id: `s-${randomUUID()}`, nextSeq: 1, conn: undefined };
      if (!known) await this.journal.rememberSession?.(session.id);
      this.sessions.set(session.id, session);
      if (session.conn && session.conn !== conn) session.conn.close(4001, "session taken over by a new connection");
      session.conn = conn;
      conn.sessionId = session.id;
      this.active = conn;

      if (known && resume) {
        // The bot durably handled everything up to lastSeq: as good as an ack.
        const done = entries.filter((e) => e.sessionId === known.id && (e.seq ?? Infinity) <= resume.lastSeq);
        if (done.length > 0) await this.journal.remove(done.map((e) => e.id));
        const doneIds = new Set(done.map((e) => e.id));
        entries = entries.filter((e) => !doneIds.has(e.id));
      }
      conn.sendJson({ op: "ready", sessionId: session.id, resumed: known !== undefined, heartbeatMs: this.heartbeatMs,
        ...(conn.version === 2 ? { protocol: PROTOCOL_V2, capabilities: this.capabilities } : {}) });
      if (session.conn !== conn) return; // replaced while we read the journal
      // Frames already numbered in this session keep their seq; all others are numbered now.
      const kept = entries
        .filter((e) => e.sessionId === session.id && e.seq !== undefined)
        .sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
      const renumbered = entries.filter((e) => !(e.sessionId === session.id && e.seq !== undefined));
      for (const e of kept) conn.sendEvent({ ...e.frame, seq: e.seq ?? 0 });
      for (const e of renumbered) {
        e.sessionId = session.id;
        e.seq = session.nextSeq++;
        conn.sendEvent({ ...e.frame, seq: e.seq });
      }
      if (renumbered.length > 0) await this.journal.update(renumbered);
      this.log.info(
        { sessionId: session.id, resumed: known !== undefined, replayed: kept.length + renumbered.length, conn: conn.label },
        "bot said hello",
      );
    });
  }

  /**
   * A session issued before this agent restarted (the journal remembers it): seqs continue after both the
   * bot's lastSeq and every journaled seq of that session.
   */
  private async restored(resume: { sessionId: string; lastSeq: number }, entries: readonly JournalEntry[]): Promise<Session | undefined> {
    if (!(await this.journal.isKnownSession?.(resume.sessionId))) return undefined;
    const seqs = entries.filter((e) => e.sessionId === resume.sessionId).map((e) => e.seq ?? 0);
    return { id: resume.sessionId, nextSeq: Math.max(resume.lastSeq, ...seqs) + 1, conn: undefined };
  }

  /** Cumulative ack: forget this session's agent-initiated frames with seq ≤ `seq`. */
  ack(conn: CoreConnection, seq: number): Promise<void> {
    return this.serialize(async () => {
      const sessionId = conn.sessionId;
      const entries = await this.journal.list();
      const done = entries.filter((e) => e.sessionId === sessionId && e.seq !== undefined && e.seq <= seq);
      if (done.length > 0) await this.journal.remove(done.map((e) => e.id));
    });
  }

  /** nack of one frame of a run: permanent → forget the whole run; else keep it for the next hello. */
  nack(conn: CoreConnection, seq: number, reason: string, permanent: boolean): Promise<void> {
    return this.serialize(async () => {
      const entries = await this.journal.list();
      const hit = entries.find((e) => e.sessionId === conn.sessionId && e.seq === seq);
      this.log.info({ seq, reason, permanent, runId: hit?.runId }, "bot nacked an agent-initiated run");
      if (!hit || !permanent) return;
      await this.journal.remove(entries.filter((e) => e.runId === hit.runId).map((e) => e.id));
    });
  }

  /** An agent-initiated run with one TEXT_MESSAGE: journaled first, then sent if a bot is connected. */
  emitProactive(threadId: string, text: string, proactive: boolean): Promise<{ runId: string }> {
    return this.serialize(async () => {
      const runId = `agent-${randomUUID()}`;
      const messageId = `m-${randomUUID()}`;
      const events: AgentEvent[] = [
        { type: "RUN_STARTED" },
        { type: "TEXT_MESSAGE_START", messageId },
        ...twoChunks(text).map((delta): AgentEvent => ({ type: "TEXT_MESSAGE_CONTENT", messageId, delta })),
        { type: "TEXT_MESSAGE_END", messageId },
        { type: "RUN_FINISHED" },
      ];
      const entries: JournalEntry[] = events.map((event, i) => ({
        id: `${runId}:${i}`,
        runId,
        frame: { op: "event", threadId, runId, ...(proactive ? { proactive: true } : {}), event },
      }));
      await this.journal.append(entries);
      const conn = this.active;
      if (conn) {
        for (const e of entries) {
          const seq = this.sendEvent(conn, e.frame);
          if (seq === undefined) break;
          e.sessionId = conn.sessionId;
          e.seq = seq;
        }
        await this.journal.update(entries.filter((e) => e.seq !== undefined));
      }
      return { runId };
    });
  }

  /** A connection closed. */
  detach(conn: CoreConnection): void {
    if (this.active === conn) this.active = undefined;
    const session = conn.sessionId === undefined ? undefined : this.sessions.get(conn.sessionId);
    if (session?.conn === conn) session.conn = undefined;
  }

  /** Wait for queued journal work (close()). */
  async idle(): Promise<void> {
    await this.queue;
  }
}
