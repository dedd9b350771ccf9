// The bot's own record of a conversation with an HTTP agent: AG-UI agents served over HTTP are usually
// stateless, so each run carries the conversation so far, and the agent's last state (its STATE_SNAPSHOT with the
// STATE_DELTAs after it applied: agent-state.ts) as `state`. Bounded (AGENT_HISTORY_MAX_MESSAGES, oldest dropped
// first), durable (store namespace "agent-history", one entry per agent and thread key), expired when unused for
// HISTORY_TTL_MS. `/reset` starts a new thread key and so a fresh history; the old one expires.
import type Keyv from "keyv";
import { z } from "zod";
import type { Logger } from "pino";

/**
 * What the bot keeps per message, as AG-UI messages: the user's (text only, never attachment bytes), the
 * assistant's (its text, or the tool calls it made) and each tool call's result.
 */
const ToolCallSchema = z.object({ id: z.string(), type: z.literal("function"), function: z.object({ name: z.string(), arguments: z.string() }) });
const HistoryMessageSchema = z.discriminatedUnion("role", [
  z.object({ id: z.string(), role: z.literal("user"), content: z.string(), name: z.string().optional() }),
  z.object({ id: z.string(), role: z.literal("assistant"), content: z.string().optional(), toolCalls: z.array(ToolCallSchema).optional() }),
  z.object({ id: z.string(), role: z.literal("tool"), content: z.string(), toolCallId: z.string(), error: z.string().optional() }),
]);
export type HistoryMessage = z.infer<typeof HistoryMessageSchema>;
const HistorySchema = z.object({ messages: z.array(HistoryMessageSchema), state: z.unknown().optional() });
/** A conversation as kept: its messages, and the agent's state after its last finished run (if it sent one). */
export type Conversation = { messages: HistoryMessage[]; state?: unknown };

export const HISTORY_TTL_MS = 30 * 24 * 3600 * 1000;

export class ConversationHistory {
  constructor(private readonly kv: Keyv<unknown>, private readonly maxMessages: number, private readonly log: Logger) {}

  /** The conversation so far; a stored value that fails the schema is logged and read as empty. */
  async load(agent: string, threadKey: string): Promise<Conversation> {
    const raw = await this.kv.get(key(agent, threadKey));
    if (raw === undefined) return { messages: [] };
    const parsed = HistorySchema.safeParse(raw);
    if (parsed.success) return { messages: parsed.data.messages, ...(parsed.data.state !== undefined ? { state: parsed.data.state } : {}) };
    this.log.warn({ agent, threadKey }, "stored conversation history is not valid; starting afresh");
    return { messages: [] };
  }

  /**
   * Adds a finished run's messages, and its final state when it has one (else the state kept stays). A user
   * message that `replaces` an earlier one (an edited question answered again) drops the earlier one and
   * everything after it first.
   */
  async append(agent: string, threadKey: string, added: HistoryMessage[], replaces: readonly string[] = [], state?: unknown): Promise<void> {
    const before = await this.load(agent, threadKey);
    let { messages } = before;
    const kept = state !== undefined ? state : before.state;
    for (const id of replaces) {
      const at = messages.findIndex((m) => m.id === id);
      if (at >= 0) messages = messages.slice(0, at);
    }
    messages = [...messages, ...added].slice(-this.maxMessages);
    // A tool result whose call was dropped would stand alone: agents' models refuse that, so it goes too.
    while (messages[0]?.role === "tool") messages = messages.slice(1);
    await this.kv.set(key(agent, threadKey), { messages, ...(kept !== undefined ? { state: kept } : {}) }, HISTORY_TTL_MS);
  }
}

function key(agent: string, threadKey: string): string {
  return `${agent}|${threadKey}`;
}
