// What the tier's global setup made for this run (one Synapse, the bot's registration, the users), handed to the
// test files through a JSON file named by MAB_SYNAPSE_RUN.
import { readFileSync } from "node:fs";
import path from "node:path";

export const RUN_ENV = "MAB_SYNAPSE_RUN";

export interface RunUser {
  userId: string;
  password: string;
  /** From register.sh (a device of its own). */
  accessToken: string;
}

/** The second start: a Synapse with its own rate limits (SYNAPSE_RATE_LIMITS=default), no appservice. */
export interface SecondSynapse {
  url: string;
  port: number;
  state: string;
  users: Record<"alice" | "limitbot", RunUser>;
}

/** An appservice registration besides the bot's own: its own user namespace, listener and Synapse backoff. */
export interface ExtraAppservice { registrationPath: string; asPort: number; asToken: string; hsToken: string; userId: string }

export interface SynapseRun {
  /** Temp directory of this run: both Synapses' STATE, the registration, the bots' logs, the latency records. */
  root: string;
  state: string;
  port: number;
  url: string;
  /** The registration as `npm run register` wrote it, loaded by Synapse. */
  registrationPath: string;
  asToken: string;
  hsToken: string;
  /** Where the registration says Synapse reaches the bot (APPSERVICE_BIND). */
  asPort: number;
  appserviceUserId: string;
  /** The second appservice (`npm run register -- --localpart cryptoagent`), for the encrypted appservice scenario. */
  e2eeAppservice: ExtraAppservice;
  /** The third (`--localpart promptagent`), for the prompts in appservice mode. */
  promptAppservice: ExtraAppservice;
  /**
   * alice (an admin), bob, mod (a room moderator who is not an allowed user), and an account per client-mode bot (the
   * scenarios', the encrypted one, the one of threads, edits, redactions and tool lines, the one of named agents, the
   * cross-signed and backed-up one, the one of prompts).
   */
  users: Record<"alice" | "bob" | "mod" | "clientbot" | "cryptobot" | "threadbot" | "agentsbot" | "trustbot" | "promptbot", RunUser>;
  defaultLimits: SecondSynapse;
  /** JSON lines of latency figures, printed by the summary reporter. */
  latencyFile: string;
}

/** Where the bot processes' output is written when they stop (kept with SYNAPSE_KEEP_STATE=1). */
export function botLogDir(run: SynapseRun): string {
  return path.join(run.root, "bot-logs");
}

export function synapseRun(): SynapseRun {
  const file = process.env[RUN_ENV];
  if (file === undefined || file === "") {
    throw new Error(`${RUN_ENV} is not set: run this tier with \`npm run test:synapse\` (its global setup starts Synapse)`);
  }
  return JSON.parse(readFileSync(file, "utf8")) as SynapseRun;
}
