// The agent as the turns see it, metered: a run whose user or room has reached a daily limit is refused before it
// reaches the agent (a `usage_limit` failure, told to the user like any other), and the usage each run reports
// (RUN_FINISHED/RUN_ERROR `usage[]`) is added to the ledger under the agent's name before the turn goes on.
import type { Logger } from "pino";
import { z } from "zod";
import type { AgentRunner } from "../turns/turn-run";
import { isJsonObject } from "../util/json-checks";
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

/**
 * The run's room and last sender. The input the turns build is checked by hand first (the schema's copy of every
 * message was ~1.5 KB per turn); what that check does not take the schema judges, as before.
 */
export function whoOf(input: unknown): { roomId: string; userId: string } | undefined {
  if (isJsonObject(input) && isJsonObject(input["context"]) && Array.isArray(input["messages"])) {
    const roomId = input["context"]["roomId"];
    const messages = input["messages"] as unknown[];
    let senders = messages.length > 0 && typeof roomId === "string";
    for (let i = 0; senders && i < messages.length; i++) {
      const m = messages[i];
      senders = isJsonObject(m) && typeof m["sender"] === "string";
    }
    if (senders) return { roomId: roomId as string, userId: (messages[messages.length - 1] as { sender: string }).sender };
  }
  const parsed = RunInputSchema.safeParse(input);
  return parsed.success
    ? { roomId: parsed.data.context.roomId, userId: parsed.data.messages[parsed.data.messages.length - 1]?.sender ?? "" }
    : undefined;
}

export function meteredRunner(inner: AgentRunner, opts: MeterOptions): AgentRunner {
  const checkLimits = hasLimits(opts.limits);
  return {
    async run(req, observer, signal) {
      const who = whoOf(req.input);
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
