// The agent as the turns see it, metered: a run whose user or room has reached a daily limit is refused before it
// reaches the agent (a `usage_limit` failure, told to the user like any other), and the usage each run reports
// (RUN_FINISHED/RUN_ERROR `usage[]`) is added to the ledger under the agent's name before the turn goes on.
import type { Logger } from "pino";
import { z } from "zod";
import type { AgentRunner } from "../turns/turn-run";
import { utcDay } from "./days";
import type { UsageLedger } from "./ledger";
import { hasLimits, limitReached, limitText, type UsageLimits } from "./limits";
import { totalsOf, type UsageTotals } from "./token-usage";

/** The agent's name where there is one agent (named agents, AGENTS_FILE, replace it per agent). */
export const DEFAULT_AGENT_NAME = "default";

export interface MeterOptions {
  ledger: UsageLedger;
  limits: UsageLimits;
  /** The agent the runs go to (with several, RoomAgents.routed meters each turn under its room's agent): records are keyed by it. */
  agentName: string;
  /** The wall clock days are counted on (tests inject one). */
  now: () => number;
  log: Logger;
  /** Each run's reported usage, once recorded (metrics: per-agent totals). */
  onUsage?: (agent: string, totals: UsageTotals) => void;
}

/** Who a run counts for: its room, and the sender of its last message (as the run limiter charges it). */
const RunInputSchema = z.looseObject({
  messages: z.array(z.looseObject({ sender: z.string() })).min(1),
  context: z.looseObject({ roomId: z.string() }),
});

export function meteredRunner(inner: AgentRunner, opts: MeterOptions): AgentRunner {
  const checkLimits = hasLimits(opts.limits);
  return {
    async run(req, observer, signal) {
      const parsed = RunInputSchema.safeParse(req.input);
      const who = parsed.success
        ? { roomId: parsed.data.context.roomId, userId: parsed.data.messages[parsed.data.messages.length - 1]?.sender ?? "" }
        : undefined;
      if (!who) opts.log.warn({ runId: req.runId }, "run input names no room or sender; its usage is not counted");
      if (who && checkLimits) {
        const now = opts.now();
        const reached = await limitReached(opts.ledger, opts.limits, who, now).catch((e: unknown) => {
          opts.log.warn({ err: String(e), roomId: who.roomId }, "usage limits could not be read; the run goes ahead");
          return undefined;
        });
        if (reached) {
          opts.log.info({ roomId: who.roomId, runId: req.runId, scope: reached.scope, used: reached.used, limit: reached.limit },
            "run refused: daily usage limit reached");
          return { ok: false, failure: { kind: "usage_limit", detail: `${reached.scope} limit reached`, text: limitText(reached, now) } };
        }
      }
      const agent = opts.agentName;
      const result = await inner.run(req, observer, signal);
      if (who && result.usage !== undefined) await record(opts, { ...who, agent }, totalsOf(result.usage));
      return result;
    },
  };
}

async function record(opts: MeterOptions, who: { roomId: string; userId: string; agent: string }, totals: UsageTotals): Promise<void> {
  opts.onUsage?.(who.agent, totals);
  try {
    await opts.ledger.record(utcDay(opts.now()), who, totals);
  } catch (e) {
    opts.log.error({ err: String(e), roomId: who.roomId, totalTokens: totals.totalTokens }, "could not record a run's token usage");
  }
}
