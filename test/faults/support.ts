// Shared pieces of the fault suite (npm run test:faults): the figure line each scenario prints, the configured
// timings deadlines are derived from, seeding many rooms into a stopped bot's store, per-room counts, and the
// reference agent as a child process that can be SIGKILLed.
import path from "node:path";
import pino from "pino";
import { FAST_TIMINGS, ROOT, ScriptProcess } from "../support/bot-harness";
import { assertNoSecrets, LogCapture } from "../support/log-capture";
import type { Scenario } from "../support/scenario";
import { TIMING_VARIABLES } from "../../src/config/variables";
import { openStore } from "../../src/store";
import { NAMESPACES } from "../../src/rooms/lifecycle/records";

/** One JSON line per scenario on stdout (console.log is noisy in jest). */
export function printFigure(scenario: string, figures: Record<string, number | string | boolean>): void {
  process.stdout.write(`${JSON.stringify({ scenario, ...figures })}\n`);
}

/** A configured timing of the bot (FAST_TIMINGS unless overridden), in ms: deadlines are multiples of these. */
export function timing(name: string, env: Record<string, string> = {}): number {
  const value = Number(env[name] ?? FAST_TIMINGS[name]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`no timing ${name}`);
  return value;
}

/**
 * For scenarios where one person talks in many rooms at once to load the bot: runs at the agent unbounded, so no
 * "waiting for a free slot" notice joins the answers counted (the limits: test/e2e/hostile/run-limits.test.ts).
 */
export const UNBOUNDED_RUNS: Record<string, string> = { AGENT_MAX_CONCURRENT_RUNS: "100000", AGENT_MAX_RUNS_PER_USER: "100000" };

/** For scenarios that count log lines: every line written (repeats are held back by default, LOG_REPEAT_WINDOW_MS). */
export const EVERY_LOG_LINE: Record<string, string> = { LOG_REPEAT_WINDOW_MS: "0" };

/**
 * The production default of each timing the tests shorten (every FAST_TIMINGS name, or those given): for the
 * scenarios whose targets are stated "with production timeouts" or "with production reconnect settings".
 */
export function productionTimings(names: readonly string[] = Object.keys(FAST_TIMINGS)): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const variable = TIMING_VARIABLES.find((t) => t.name === name);
    if (!variable) throw new Error(`no timing variable ${name}`);
    out[name] = String(variable.defaultValue);
  }
  return out;
}

/**
 * The agent link's and a run's deadlines at their production defaults (a pong within 10 s, RUN_STARTED within 15 s,
 * 60 s of silence; FAST_TIMINGS has 0.5, 2 and 3 s). The scenarios with many rooms load the machine and run
 * beside other test runs: with the test deadlines a pong late by half a second dropped the agent link, and every run
 * in flight was told to send its message again (link_lost), counted as lost although no defect of the bot was
 * involved (issue 30: 2 of 6 flake-check runs at load 11-16). A dropped link and run deadlines have scenarios of their own (agent-faults.test.ts).
 */
export const AGENT_DEADLINES: Record<string, string> =
  productionTimings(["AGENT_HEARTBEAT_MS", "AGENT_PONG_TIMEOUT_MS", "RUN_START_TIMEOUT_MS", "RUN_IDLE_TIMEOUT_MS"]);

/** Copies of a message more than once per room: each room's count beyond the first. */
export function duplicatesIn(counts: readonly number[]): number {
  return counts.reduce((sum, n) => sum + Math.max(0, n - 1), 0);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/**
 * Writes, into a stopped bot's store, what it would have recorded for rooms it already knows: their introduction
 * (so none is posted now) and, with `optIn`, the proactive opt-in (as `/proactive on` does). `storeUrl`: the
 * scenario's store when it is not DATA_DIR's SQLite file.
 */
export async function seedKnownRooms(dataDir: string, roomIds: readonly string[],
  opts: { optIn?: boolean; syncToken?: string; storeUrl?: string } = {}): Promise<void> {
  const store = await openStore(opts.storeUrl ?? `sqlite://${dataDir}/bot.sqlite`, { logger: pino({ level: "silent" }) });
  try {
    const introductions = store.namespace<number>(NAMESPACES.introductions);
    const optIns = store.namespace<number>("proactive-rooms");
    for (const roomId of roomIds) {
      await introductions.set(roomId, Date.now());
      if (opts.optIn === true) await optIns.set(roomId, Date.now());
    }
    if (opts.syncToken !== undefined) await store.namespace<string>("sync").set("next_batch", opts.syncToken);
  } finally {
    await store.close();
  }
}

/** The homeserver's stream position now, as a sync token (a bot resuming from it has seen everything before). */
export async function currentSyncToken(s: Scenario): Promise<string> {
  return (await s.alice.sync({ timeout: 0, filter: { room: { rooms: [] } } })).next_batch;
}

/** Per room: how many of the bot's messages have exactly this body. */
export function bodiesPerRoom(s: Scenario, roomIds: readonly string[], body: string): number[] {
  const index = new Map<string, number>(roomIds.map((r, i) => [r, i]));
  const counts = roomIds.map(() => 0);
  for (const e of s.hs.sent({ sender: s.botUserId, type: "m.room.message" })) {
    const i = index.get(e.room_id);
    if (i !== undefined && e.content["body"] === body) counts[i] = (counts[i] ?? 0) + 1;
  }
  return counts;
}

/** A log line's wall-clock time (pino's `time`), if it has one. */
export function timeOf(line: { [k: string]: unknown }): number | undefined {
  const raw = line["time"];
  return typeof raw === "number" ? raw : typeof raw === "string" ? Date.parse(raw) : undefined;
}

/** The wall-clock time of the first log line matching `predicate` (pino's `time`), if any. */
export function logTime(logs: LogCapture, predicate: (line: { msg?: string; [k: string]: unknown }) => boolean, after = 0): number | undefined {
  for (const line of logs.lines()) {
    const time = timeOf(line);
    if (time !== undefined && time >= after && predicate(line)) return time;
  }
  return undefined;
}

/** Log lines at error level or above (pino: 50 error, 60 fatal). */
export function errorLines(logs: LogCapture): Array<{ msg?: string; [k: string]: unknown }> {
  return logs.lines().filter((l) => l.level >= 50);
}

const AGENT_JS = path.join(ROOT, "dist", "src", "reference-agent", "main.js");

/**
 * The reference agent (`npm run agent`) as its own process, so a test can SIGKILL it. stop() checks its output for
 * its own secrets and for those added to `otherSecrets` (the bot's world: its token, the appservice tokens).
 */
export class AgentProcess extends ScriptProcess {
  readonly otherSecrets: string[] = [];

  constructor(private readonly env: Record<string, string>) {
    super(AGENT_JS, { LOG_LEVEL: "info", AGENT_HOST: "127.0.0.1", ...env },
      { msg: "reference agent ready", what: "the agent's ready line" }, { stderrIntoLogs: true });
  }

  override async stop(): Promise<void> {
    await super.stop();
    assertNoSecrets([...this.logs.raw, ...this.stderr], [...["AGENT_TOKEN", "LLM_API_KEY"].map((k) => this.env[k] ?? ""), ...this.otherSecrets]);
  }
}
