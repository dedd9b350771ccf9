// The tokens a reference-agent run used, as AG-UI reports them (`RUN_FINISHED.usage[]`, `RUN_ERROR.usage[]`): each
// model request's OpenAI-compatible `usage` (prompt_tokens, completion_tokens, …) added into one TokenUsage per
// model, so the bot's /usage counts reference-agent turns as it counts any other agent's.
import type OpenAI from "openai";
import type { TokenUsage } from "../usage/token-usage";

/** An OpenAI-compatible `usage` object as AG-UI's TokenUsage (undefined when it carries no counts). */
export function tokenUsageOf(usage: OpenAI.Completions.CompletionUsage | null | undefined, model: string): TokenUsage | undefined {
  if (!usage || typeof usage.prompt_tokens !== "number" || typeof usage.completion_tokens !== "number") return undefined;
  const reasoning = usage.completion_tokens_details?.reasoning_tokens;
  const cached = usage.prompt_tokens_details?.cached_tokens;
  return { model, inputTokens: usage.prompt_tokens, outputTokens: usage.completion_tokens,
    totalTokens: typeof usage.total_tokens === "number" ? usage.total_tokens : usage.prompt_tokens + usage.completion_tokens,
    ...(typeof reasoning === "number" ? { reasoningTokens: reasoning } : {}), ...(typeof cached === "number" ? { cachedInputTokens: cached } : {}) };
}

const COUNTS = ["inputTokens", "outputTokens", "totalTokens", "reasoningTokens", "cachedInputTokens", "cacheWriteInputTokens"] as const;

/** One run's usage so far: added per model request, reported once the run ends (finished, failed or cancelled). */
export class RunUsage {
  private readonly byModel = new Map<string, TokenUsage>();

  add(entry: TokenUsage): void {
    const key = `${entry.provider ?? ""}\u0000${entry.model ?? ""}`;
    const sum: Record<string, unknown> = { ...(this.byModel.get(key) ?? {}) };
    for (const [field, value] of Object.entries(entry)) {
      if (!(COUNTS as readonly string[]).includes(field)) sum[field] = value;
      else if (typeof value === "number") sum[field] = (typeof sum[field] === "number" ? sum[field] : 0) + value;
    }
    this.byModel.set(key, sum as TokenUsage);
  }

  /** `{ usage }` to spread into RUN_FINISHED or RUN_ERROR; nothing when no request reported usage. */
  field(): { usage?: TokenUsage[] } {
    return this.byModel.size > 0 ? { usage: [...this.byModel.values()] } : {};
  }
}
