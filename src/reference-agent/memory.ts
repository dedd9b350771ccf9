// Conversation memory of the reference agent: one history per thread key, kept in the store (so it
// survives agent restarts). A new thread generation is a new thread key, so it starts empty, and the room's
// older generations are deleted; a history unused for LLM_HISTORY_TTL_DAYS is deleted (memory-expiry.ts). What
// is sent to the model is trimmed to a character budget (about 4 characters per token), oldest first; the
// system prompt is always kept, and each tool call stays with its result. A user turn keeps its Matrix message id
// (never sent to the model): a run whose message `replaces` an earlier one (the user edited a question answered
// before) rewrites the history, the old question and its answer giving way to the new version and its answer.
import type Keyv from "keyv";
import { z } from "zod";
import type { RunInput } from "../agent/protocol";
import { MemoryExpiry, type MemoryExpiryOptions } from "./memory-expiry";

/** A tool call the model made, as it made it (arguments: the JSON text it wrote). */
export const ToolCallSchema = z.object({ id: z.string(), name: z.string(), arguments: z.string() });
export type ToolCall = z.infer<typeof ToolCallSchema>;

export const ChatTurnSchema = z.union([
  /** `id`: the Matrix message id (absent in records written before edits were followed); never sent to the model. */
  z.object({ role: z.literal("user"), content: z.string(), id: z.string().optional() }),
  /** `toolCalls`: the tools the model called in this turn; the tool turns with their results follow it. */
  z.object({ role: z.literal("assistant"), content: z.string(), toolCalls: z.array(ToolCallSchema).optional() }),
  z.object({ role: z.literal("tool"), toolCallId: z.string(), content: z.string() }),
]);
export type ChatTurn = z.infer<typeof ChatTurnSchema>;
/** `images`: data: URLs the model sees with this user turn (this request only; never kept in the history). */
export type PromptMessage = ChatTurn | { role: "system"; content: string } | { role: "user"; content: string; images: string[] };

/** `at`: when the thread was last used (ms); absent in records written before expiry existed. */
const StoredHistorySchema = z.object({ v: z.literal(1), turns: z.array(ChatTurnSchema), at: z.number().optional() });
export type StoredHistory = z.infer<typeof StoredHistorySchema>;

/** The store namespace memory lives in. */
export const MEMORY_NAMESPACE = "agent-memory";

/** Quoted reply text is cut to this many characters in the prompt. */
const MAX_QUOTE_CHARS = 500;

/** The run's user messages as model turns, each prefixed with its sender's name (the quoted reply on the last). */
export function userTurnsOf(input: RunInput): ChatTurn[] {
  const last = input.messages.length - 1;
  return input.messages.map((m, i) => {
    const name = m.senderName !== undefined && m.senderName.trim() !== "" ? m.senderName : m.sender;
    const quote = i === last ? input.context.inReplyTo : undefined;
    const about = quote !== undefined && quote.trim() !== "" ? ` (replying to "${cut(quote.trim(), MAX_QUOTE_CHARS)}")` : "";
    return { role: "user", content: `${name}${about}: ${m.content}`, id: m.id };
  });
}

/** The ids of the earlier messages a run's messages replace (edited questions answered before). */
export function replacedIdsOf(input: RunInput): string[] {
  return input.messages.flatMap((m) => (m.replaces !== undefined ? [m.replaces] : []));
}

/**
 * `history` without the user turns `replacedIds` and the answer that followed each (the rest of its batch stays):
 * the history as if the replaced questions had been asked in their new version (appended after it).
 */
export function withoutReplaced(history: readonly ChatTurn[], replacedIds: readonly string[]): ChatTurn[] {
  let turns = [...history];
  for (const id of replacedIds) {
    const at = turns.findIndex((t) => t.role === "user" && t.id === id);
    if (at < 0) continue;
    let batchEnd = at + 1;
    while (turns[batchEnd]?.role === "user") batchEnd += 1;
    let answerEnd = batchEnd;
    while (turns[answerEnd]?.role === "assistant" || turns[answerEnd]?.role === "tool") answerEnd += 1; // its tool calls too
    turns = [...turns.slice(0, at), ...turns.slice(at + 1, batchEnd), ...turns.slice(answerEnd)];
  }
  return turns;
}

function cut(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join("")}…`;
}

/** Characters a turn costs against the budget (its text and the arguments of its tool calls). */
function sizeOf(turn: ChatTurn): number {
  const calls = turn.role === "assistant" ? turn.toolCalls ?? [] : [];
  return calls.reduce((n, c) => n + c.name.length + c.arguments.length, turn.content.length);
}

/**
 * The history in units that are kept or dropped whole: an assistant turn that called tools with the tool turns
 * answering it (providers reject a call without its result, and a result without its call), any other turn alone.
 * A unit whose calls do not all have their result, and a tool turn without its call, are left out.
 */
function unitsOf(history: readonly ChatTurn[]): ChatTurn[][] {
  const units: ChatTurn[][] = [];
  for (let i = 0; i < history.length;) {
    const turn = history[i] as ChatTurn;
    let j = i + 1;
    if (turn.role === "assistant" && (turn.toolCalls?.length ?? 0) > 0) {
      while (j < history.length && history[j]?.role === "tool") j++;
      const unit = history.slice(i, j);
      const answered = new Set(unit.map((t) => (t.role === "tool" ? t.toolCallId : "")));
      if ((turn.toolCalls ?? []).every((c) => answered.has(c.id))) units.push(unit);
    } else if (turn.role !== "tool") {
      units.push([turn]);
    }
    i = j;
  }
  return units;
}

/**
 * The newest turns of `history` that fit in `budget` characters, oldest dropped first, each tool call kept with
 * its result; never starts with an assistant or tool turn (an answer without its question).
 */
export function trimHistory(history: readonly ChatTurn[], budget: number): ChatTurn[] {
  const units = unitsOf(history);
  let used = 0;
  let start = units.length;
  for (let i = units.length - 1; i >= 0; i--) {
    const size = (units[i] ?? []).reduce((n, t) => n + sizeOf(t), 0);
    if (used + size > budget) break;
    used += size;
    start = i;
  }
  while (start < units.length && units[start]?.[0]?.role !== "user") start++;
  return units.slice(start).flat();
}

/**
 * The messages for one request: the system prompt (always), as much recent history as fits the budget, and
 * the run's new user turns (always, even when they alone exceed the budget: the provider then says so).
 */
export function buildPrompt(
  systemPrompt: string | undefined,
  history: readonly ChatTurn[],
  newTurns: readonly ChatTurn[],
  budgetChars: number,
): PromptMessage[] {
  const fixed = (systemPrompt?.length ?? 0) + newTurns.reduce((n, t) => n + sizeOf(t), 0);
  const kept = trimHistory(history, Math.max(0, budgetChars - fixed));
  const plain = (t: ChatTurn): PromptMessage => (t.role === "user" ? { role: t.role, content: t.content } : t); // ids stay with us
  return [...(systemPrompt !== undefined ? [{ role: "system" as const, content: systemPrompt }] : []), ...kept.map(plain), ...newTurns.map(plain)];
}

export interface ThreadMemoryOptions {
  /** Characters of history per request, system prompt included (LLM_HISTORY_MAX_CHARS). */
  budgetChars: number;
  /** Counted against the budget; kept out of the stored history. */
  systemPrompt?: string;
  /** Expiry (LLM_HISTORY_TTL_DAYS) and its indexes; without it histories are kept until deleted otherwise. */
  expiry?: Pick<MemoryExpiryOptions, "days" | "rooms" | "ttlDays" | "now" | "log">;
}

/** Per-thread histories in a Keyv namespace. One run per thread at a time (agent-core), so no locking. */
export class ThreadMemory {
  readonly expiry: MemoryExpiry | undefined;
  private readonly now: () => number;

  constructor(
    private readonly keyv: Keyv<StoredHistory>,
    private readonly options: ThreadMemoryOptions,
  ) {
    const expiry = options.expiry;
    this.now = expiry?.now ?? Date.now;
    this.expiry = expiry && new MemoryExpiry({
      ...expiry,
      forget: async (threadId) => void (await this.keyv.delete(threadId)),
      // A record without `at` predates expiry and has not been used since it was listed (a use writes `at`).
      lastUsed: async (threadId) => this.stored(threadId).then((s) => s && (s.at ?? 0)),
    });
  }

  get budgetChars(): number {
    return this.options.budgetChars;
  }

  /**
   * At the start of a run: the thread's history (empty for a new thread key, one unused for the TTL, or one of a
   * generation older than the room's newest). A record that fails to parse counts as empty.
   */
  async history(threadId: string): Promise<ChatTurn[]> {
    if (this.expiry && !(await this.expiry.beforeRun(threadId))) return [];
    return this.current(threadId);
  }

  /**
   * After a successful run: append its user turns and the answer, trimmed to the budget; the questions `replacedIds`
   * (and their answers) leave the history first.
   */
  async append(threadId: string, turns: readonly ChatTurn[], replacedIds: readonly string[] = []): Promise<void> {
    if (await this.expiry?.isStale(threadId)) return; // reset while the run went on: nothing of it is kept
    const budget = Math.max(0, this.options.budgetChars - (this.options.systemPrompt?.length ?? 0));
    const next = trimHistory([...withoutReplaced(await this.current(threadId), replacedIds), ...turns], budget);
    const at = this.now();
    await this.keyv.set(threadId, { v: 1, turns: next, at });
    await this.expiry?.used(threadId, at);
  }

  /**
   * At start: lists the histories written before expiry existed (once, as used now), then deletes the expired
   * ones. Call it again now and then (from-config.ts: hourly).
   */
  async sweep(): Promise<number> {
    const expiry = this.expiry;
    if (!expiry) return 0;
    if (await expiry.isNew()) {
      const iterate = this.keyv.iterator;
      if (iterate) {
        const threads: string[] = [];
        for await (const [key] of iterate(undefined)) if (typeof key === "string") threads.push(key);
        for (const threadId of threads) if (await expiry.beforeRun(threadId)) await expiry.used(threadId, this.now());
      }
    }
    return expiry.sweep();
  }

  private async current(threadId: string): Promise<ChatTurn[]> {
    const stored = await this.stored(threadId);
    const ttlMs = this.expiry?.ttlMs;
    if (!stored || (ttlMs !== undefined && stored.at !== undefined && stored.at <= this.now() - ttlMs)) return [];
    return stored.turns;
  }

  private async stored(threadId: string): Promise<StoredHistory | undefined> {
    const parsed = StoredHistorySchema.safeParse(await this.keyv.get(threadId));
    return parsed.success ? parsed.data : undefined;
  }
}
