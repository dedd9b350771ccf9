// A persistent AgentJournal in the agent's store (SQLite by default): unacked agent-initiated frames survive
// agent restarts and are replayed when the bot says hello again. The whole journal is one record, written
// at once (keyv has no multi-key transaction; the journal is small: unacked proactive runs only). It also
// remembers the session ids this agent issued, so a bot resuming after an agent restart is recognised.
import type Keyv from "keyv";
import type { Logger } from "pino";
import { z } from "zod";
import { EventFrameSchema } from "../agent/protocol";
import type { AgentJournal, JournalEntry } from "./journal";

/** The store namespace the journal lives in. */
export const JOURNAL_NAMESPACE = "agent-journal";

const EntrySchema = z.object({
  id: z.string(),
  runId: z.string(),
  frame: EventFrameSchema.omit({ seq: true }),
  sessionId: z.string().optional(),
  seq: z.number().int().nonnegative().optional(),
});
const RecordSchema = z.object({ v: z.literal(1), entries: z.array(z.unknown()) });
const SessionsSchema = z.array(z.string());

type StoredRecord = { v: 1; entries: JournalEntry[] } | string[];

export interface StoreAgentJournalOptions {
  logger: Logger;
  /** Frames kept at most; beyond it the oldest runs are dropped (with a warning). Default 10,000. */
  maxEntries?: number;
  /** Session ids remembered for resume after a restart. Default 100. */
  maxSessions?: number;
}

export const STORE_JOURNAL_DEFAULTS = { maxEntries: 10_000, maxSessions: 100 } as const;

export class StoreAgentJournal implements AgentJournal {
  private entries: JournalEntry[] | undefined;
  private sessions: string[] | undefined;
  private readonly maxEntries: number;
  private readonly maxSessions: number;

  constructor(
    private readonly keyv: Keyv<StoredRecord>,
    private readonly options: StoreAgentJournalOptions,
  ) {
    this.maxEntries = options.maxEntries ?? STORE_JOURNAL_DEFAULTS.maxEntries;
    this.maxSessions = options.maxSessions ?? STORE_JOURNAL_DEFAULTS.maxSessions;
  }

  private async load(): Promise<JournalEntry[]> {
    if (this.entries) return this.entries;
    const raw = await this.keyv.get("entries");
    const record = RecordSchema.safeParse(raw ?? { v: 1, entries: [] });
    const entries: JournalEntry[] = [];
    let bad = record.success ? 0 : 1;
    for (const item of record.success ? record.data.entries : []) {
      const parsed = EntrySchema.safeParse(item);
      if (parsed.success) entries.push(stripUndefined(parsed.data) as JournalEntry);
      else bad++;
    }
    if (bad > 0) this.options.logger.warn({ bad }, "agent journal: unreadable records skipped");
    this.entries = entries;
    return entries;
  }

  private async save(entries: JournalEntry[]): Promise<void> {
    await this.keyv.set("entries", { v: 1, entries });
    this.entries = entries;
  }

  async append(added: readonly JournalEntry[]): Promise<void> {
    let next = [...(await this.load()), ...added.map((e) => structuredClone(e))];
    if (next.length > this.maxEntries) {
      const keepFrom = next.length - this.maxEntries;
      const dropped = new Set(next.slice(0, keepFrom).map((e) => e.runId));
      next = next.filter((e) => !dropped.has(e.runId));
      this.options.logger.warn({ droppedRuns: dropped.size }, "agent journal full: the oldest unacked runs were dropped");
    }
    await this.save(next);
  }

  async update(changed: readonly JournalEntry[]): Promise<void> {
    const byId = new Map(changed.map((e) => [e.id, e]));
    const current = await this.load();
    if (!current.some((e) => byId.has(e.id))) return;
    await this.save(current.map((e) => (byId.has(e.id) ? structuredClone(byId.get(e.id) as JournalEntry) : e)));
  }

  async remove(ids: readonly string[]): Promise<void> {
    const gone = new Set(ids);
    const current = await this.load();
    if (!current.some((e) => gone.has(e.id))) return;
    await this.save(current.filter((e) => !gone.has(e.id)));
  }

  async list(): Promise<JournalEntry[]> {
    return (await this.load()).map((e) => structuredClone(e));
  }

  async rememberSession(sessionId: string): Promise<void> {
    const known = await this.knownSessions();
    const next = [...known.filter((s) => s !== sessionId), sessionId].slice(-this.maxSessions);
    await this.keyv.set("sessions", next);
    this.sessions = next;
  }

  async isKnownSession(sessionId: string): Promise<boolean> {
    return (await this.knownSessions()).includes(sessionId);
  }

  private async knownSessions(): Promise<string[]> {
    if (this.sessions) return this.sessions;
    const parsed = SessionsSchema.safeParse((await this.keyv.get("sessions")) ?? []);
    this.sessions = parsed.success ? parsed.data : [];
    return this.sessions;
  }

  /** Frames kept (for tests and metrics). */
  async size(): Promise<number> {
    return (await this.load()).length;
  }
}

/** zod's optional keys come back as `key: undefined`; keep the records as they were written. */
function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
