// Where the reference agent keeps agent-initiated frames until the bot acks them (across sessions).
import type { EventFrame } from "../agent/protocol";

export interface JournalEntry {
  /** Unique per frame, e.g. `${runId}:${index}`. */
  id: string;
  runId: string;
  /** The frame without its seq: a seq belongs to a session and is assigned when the frame is sent. */
  frame: Omit<EventFrame, "seq">;
  /** Set once the frame was sent in a session. */
  sessionId?: string;
  seq?: number;
}

/** Pluggable store of unacked agent-initiated frames. `list()` returns entries in append order. */
export interface AgentJournal {
  append(entries: readonly JournalEntry[]): Promise<void>;
  /** Replace entries (by id) that exist; ignore the others. */
  update(entries: readonly JournalEntry[]): Promise<void>;
  remove(ids: readonly string[]): Promise<void>;
  list(): Promise<JournalEntry[]>;
  /**
   * Optional, for journals that outlive the process: remember a session id this agent issued, so that a
   * bot resuming it after an agent restart is recognised (frames ≤ its lastSeq are done, seqs continue).
   */
  rememberSession?(sessionId: string): Promise<void>;
  isKnownSession?(sessionId: string): Promise<boolean>;
}

/** The default journal: in memory (lost with the process; fine for tests and demos). */
export class MemoryAgentJournal implements AgentJournal {
  private readonly entries = new Map<string, JournalEntry>();

  async append(entries: readonly JournalEntry[]): Promise<void> {
    for (const e of entries) this.entries.set(e.id, structuredClone(e));
  }

  async update(entries: readonly JournalEntry[]): Promise<void> {
    for (const e of entries) if (this.entries.has(e.id)) this.entries.set(e.id, structuredClone(e));
  }

  async remove(ids: readonly string[]): Promise<void> {
    for (const id of ids) this.entries.delete(id);
  }

  async list(): Promise<JournalEntry[]> {
    return [...this.entries.values()].map((e) => structuredClone(e));
  }

  /** Number of frames kept (for tests). */
  size(): number {
    return this.entries.size;
  }
}
