// AG-UI 1.0 token usage (`RUN_FINISHED.usage[]`, `RUN_ERROR.usage[]`: one `TokenUsage` per provider and model) as the
// bot counts it. Entries are checked with AG-UI's own `TokenUsageSchema`; a malformed entry is left out (and said
// why) without failing the event that carried it. A run's tokens are its entries' totals summed: `totalTokens`, or
// input + output where an entry has no total (AG-UI defines the total as exactly that sum).
import { TokenUsageSchema } from "@ag-ui/core/schemas";
import { z } from "zod";

export type TokenUsage = z.infer<typeof TokenUsageSchema>;

/** What the bot counts of one or more runs. */
export interface UsageTotals {
  /** Runs that reported usage. */
  runs: number;
  inputTokens: number;
  outputTokens: number;
  /** What budgets count: input + output. */
  totalTokens: number;
}

export const UsageTotalsSchema = z.object({
  runs: z.number().int().min(0),
  inputTokens: z.number().int().min(0),
  outputTokens: z.number().int().min(0),
  totalTokens: z.number().int().min(0),
});

export const ZERO_TOTALS: UsageTotals = Object.freeze({ runs: 0, inputTokens: 0, outputTokens: 0, totalTokens: 0 });

/** Where a run can carry usage. */
const USAGE_EVENTS: ReadonlySet<string> = new Set(["RUN_FINISHED", "RUN_ERROR"]);
/** Entries of one event at most (one per provider and model: a run uses a handful). */
export const MAX_USAGE_ENTRIES = 64;

/**
 * A raw AG-UI event with its `usage` reduced to the valid TokenUsage entries (removed when none is), and why
 * entries were left out (undefined when nothing was).
 */
export function splitUsage(raw: { type: string; [key: string]: unknown }): { event: Record<string, unknown>; rejected?: string } {
  if (!USAGE_EVENTS.has(raw.type) || !("usage" in raw)) return { event: raw };
  const { usage, ...rest } = raw;
  if (!Array.isArray(usage)) return { event: rest, rejected: "usage is not an array" };
  const kept: TokenUsage[] = [];
  const reasons: string[] = [];
  usage.slice(0, MAX_USAGE_ENTRIES).forEach((entry: unknown, i) => {
    const parsed = TokenUsageSchema.safeParse(entry);
    if (parsed.success) kept.push(parsed.data);
    else reasons.push(`usage.${i}: ${parsed.error.issues.map((x) => `${x.path.join(".") || "(entry)"} ${x.message}`).join(", ")}`);
  });
  if (usage.length > MAX_USAGE_ENTRIES) reasons.push(`more than ${MAX_USAGE_ENTRIES} entries (the rest left out)`);
  const event = kept.length > 0 ? { ...rest, usage: kept } : rest;
  return reasons.length > 0 ? { event, rejected: reasons.slice(0, 5).join("; ") } : { event };
}

/** `{ usage }` when there are entries, else nothing: spread into a run event or a run result. */
export function usageField(usage: TokenUsage[] | undefined): { usage?: TokenUsage[] } {
  return usage !== undefined && usage.length > 0 ? { usage } : {};
}

/** The totals of one run's usage entries (runs: 1). */
export function totalsOf(usage: readonly TokenUsage[]): UsageTotals {
  let inputTokens = 0;
  let outputTokens = 0;
  let totalTokens = 0;
  for (const entry of usage) {
    const input = entry.inputTokens ?? 0;
    const output = entry.outputTokens ?? 0;
    inputTokens += input;
    outputTokens += output;
    totalTokens += entry.totalTokens ?? input + output;
  }
  return { runs: 1, inputTokens, outputTokens, totalTokens };
}

export function addTotals(a: UsageTotals, b: UsageTotals): UsageTotals {
  return {
    runs: a.runs + b.runs,
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    totalTokens: a.totalTokens + b.totalTokens,
  };
}
