// The bot's own record of a conversation with an HTTP agent: AG-UI agents served over HTTP are usually
// stateless, so each run carries the conversation so far. Bounded (AGENT_HISTORY_MAX_MESSAGES, oldest dropped
// first), durable (store namespace "agent-history", one entry per agent and thread key), expired when unused for
// HISTORY_TTL_MS. `/reset` starts a new thread key and so a fresh history; the old one expires.
import type Keyv from "keyv";
import { z } from "zod";
import type { Logger } from "pino";

/** What the bot keeps per message: AG-UI messages (user, assistant), text only (never attachment bytes). */
const HistoryMessageSchema = z.object({
  id: z.string(),
  role: z.enum(["user", "assistant"]),
  content: z.string(),
  name: z.string().optional(),
});
export type HistoryMessage = z.infer<typeof HistoryMessageSchema>;
const HistorySchema = z.object({ messages: z.array(HistoryMessageSchema) });

export const HISTORY_TTL_MS = 30 * 24 * 3600 * 1000;

export class ConversationHistory {
  constructor(private readonly kv: Keyv<unknown>, private readonly maxMessages: number, private readonly log: Logger) {}

  /** The conversation so far; a stored value that fails the schema is logged and read as empty. */
  async load(agent: string, threadKey: string): Promise<HistoryMessage[]> {
    const raw = await this.kv.get(key(agent, threadKey));
    if (raw === undefined) return [];
    const parsed = HistorySchema.safeParse(raw);
    if (parsed.success) return parsed.data.messages;
    this.log.warn({ agent, threadKey }, "stored conversation history is not valid; starting afresh");
    return [];
  }

  /**
   * Adds a finished run's messages. A user message that `replaces` an earlier one (an edited question answered
   * again) drops the earlier one and everything after it first.
   */
  async append(agent: string, threadKey: string, added: HistoryMessage[], replaces: readonly string[] = []): Promise<void> {
    let messages = await this.load(agent, threadKey);
    for (const id of replaces) {
      const at = messages.findIndex((m) => m.id === id);
      if (at >= 0) messages = messages.slice(0, at);
    }
    messages = [...messages, ...added].slice(-this.maxMessages);
    await this.kv.set(key(agent, threadKey), { messages }, HISTORY_TTL_MS);
  }
}

function key(agent: string, threadKey: string): string {
  return `${agent}|${threadKey}`;
}
