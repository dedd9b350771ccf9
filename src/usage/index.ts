// Usage and budgets: what each agent run costs in tokens, summed per UTC day for its room, its user and its agent
// (ledger.ts), daily limits that refuse a run (limits.ts), the agent metered (meter.ts), and /usage's view of it.
import type { Logger } from "pino";
import type { AgentRunner } from "../turns/turn-run";
import { UsageLedger, type UsageStore } from "./ledger";
import type { UsageLimits } from "./limits";
import { meteredRunner, type MeterOptions } from "./meter";
import type { UsageTotals } from "./token-usage";

export { DEFAULT_AGENT_NAME } from "./meter";
export type { UsageLimits } from "./limits";

export interface Usage {
  ledger: UsageLedger;
  limits: UsageLimits;
  /** The wall clock days are counted on. */
  now: () => number;
  /** The runs of the agent `agentName`, counted and capped. */
  meter(runner: AgentRunner, agentName: MeterOptions["agentName"]): AgentRunner;
}

export function createUsage(opts: { store: UsageStore; limits: UsageLimits; log: Logger; now?: () => number;
  onUsage?: (agent: string, totals: UsageTotals) => void }): Usage {
  const ledger = new UsageLedger(opts.store, opts.log);
  const now = opts.now ?? Date.now;
  return {
    ledger, limits: opts.limits, now,
    meter: (runner, agentName) => meteredRunner(runner, { ledger, limits: opts.limits, agentName, now, log: opts.log,
      ...(opts.onUsage ? { onUsage: opts.onUsage } : {}) }),
  };
}
