// The reference agent assembled from its configuration (loadAgentConfig): echo or LLM mode (with the built-in
// tools and the allowed tools of MCP_SERVERS), memory and the journal of unacked agent-initiated runs in its own
// store (default sqlite://<DATA_DIR>/agent.sqlite), and the proactive check-in schedule. Used by `npm run agent` and by the bot when it embeds the agent.
import * as path from "node:path";
import type Keyv from "keyv";
import type { Logger } from "pino";
import { openStore, type Store } from "../store";
import { keepPrivate } from "../util/private-files";
import type { AgentConfig } from "./config";
import { createLlmBrain, type LlmBrain } from "./llm-brain";
import { MEMORY_NAMESPACE, ThreadMemory, type StoredHistory } from "./memory";
import { MEMORY_DAYS_NAMESPACE, MEMORY_ROOMS_NAMESPACE } from "./memory-expiry";
import { ProactiveCheckIns, checkInPrompt, type SchedulerClock } from "./schedule";
import { startReferenceAgent, type ReferenceAgent, type ReferenceAgentMode } from "./server";
import { JOURNAL_NAMESPACE, StoreAgentJournal } from "./store-journal";
import { builtinTools } from "./tools/builtin";
import { McpTools } from "./tools/mcp";
import { Toolbox } from "./tools/toolbox";
import { PAUSED_NAMESPACE, ToolApprovals } from "./tool-approvals";

export interface ConfiguredAgentOptions {
  logger: Logger;
  /** Default config.host (the bot embeds on 127.0.0.1). */
  host?: string;
  /** Default config.port (0: any free port). */
  port?: number;
  /** AG-UI over HTTP + SSE: default config.httpPort; null: not served (the bot's in-process agent). */
  httpPort?: number | null;
  /** Default config.token; null: no authentication. */
  token?: string | null;
  /** Default sqlite://<config.dataDir>/agent.sqlite. */
  storeUrl?: string;
  heartbeatMs?: number;
  /** Default config.maxFrameBytes. */
  maxFrameBytes?: number;
  /** Test hook for the proactive schedule and the memory's expiry (LLM_HISTORY_TTL_DAYS). */
  clock?: SchedulerClock;
  /** Time zone of PROACTIVE_SCHEDULE; default the process's. */
  timezone?: string;
}

export interface ConfiguredAgent extends ReferenceAgent {
  readonly mode: "echo" | "llm";
  /** Set when PROACTIVE_SCHEDULE is. */
  readonly checkIns: ProactiveCheckIns | undefined;
  /** Agent-initiated frames kept until the bot acks them (for health checks and tests). */
  unackedFrames(): Promise<number>;
}

/** How often expired conversation histories are looked for (also once at start). */
export const MEMORY_SWEEP_INTERVAL_MS = 3_600_000;

export function agentStoreUrl(dataDir: string): string {
  return `sqlite://${path.join(dataDir, "agent.sqlite")}`;
}

/** Start the reference agent as configured; `close()` stops the schedule, the server and the store. */
/** Largest attachment the agent fetches from the bot's one-time URL (the bot's MEDIA_MAX_BYTES default). */
const MEDIA_FETCH_MAX_BYTES = 20_971_520;

export async function startReferenceAgentFromConfig(config: AgentConfig, opts: ConfiguredAgentOptions): Promise<ConfiguredAgent> {
  const log = opts.logger;
  keepPrivate(config.dataDir, log);
  const store: Store = await openStore(opts.storeUrl ?? agentStoreUrl(config.dataDir), { logger: log.child({ part: "agent-store" }) });
  let agent: ReferenceAgent | undefined;
  let checkIns: ProactiveCheckIns | undefined;
  let sweeps: NodeJS.Timeout | undefined;
  let mcp: McpTools | undefined;
  try {
    const journal = new StoreAgentJournal(store.namespace(JOURNAL_NAMESPACE), { logger: log });
    let brain: LlmBrain | undefined;
    let mode: ReferenceAgentMode = { kind: "echo" };
    const llm = config.llm;
    if (llm.baseUrl !== undefined && llm.model !== undefined) {
      const memory = new ThreadMemory(store.namespace<StoredHistory>(MEMORY_NAMESPACE) as Keyv<StoredHistory>, {
        budgetChars: llm.historyMaxChars,
        ...(llm.systemPrompt !== undefined ? { systemPrompt: llm.systemPrompt } : {}),
        expiry: { days: store.namespace(MEMORY_DAYS_NAMESPACE), rooms: store.namespace(MEMORY_ROOMS_NAMESPACE), ttlDays: llm.historyTtlDays,
          now: () => (opts.clock?.now() ?? new Date()).getTime(), log },
      });
      const sweep = (): Promise<void> => memory.sweep().then(() => undefined,
        (err: unknown) => log.warn({ err }, "could not delete expired conversation histories; trying again in an hour"));
      await sweep();
      sweeps = setInterval(() => void sweep(), MEMORY_SWEEP_INTERVAL_MS);
      sweeps.unref();
      const builtins = builtinTools();
      const servers = config.mcp.servers;
      if (Object.keys(servers).length > 0) {
        mcp = new McpTools({ servers, allow: config.mcp.allow, log: log.child({ part: "mcp" }), timeoutMs: config.mcp.timeoutMs });
        await mcp.start();
      }
      const toolbox = new Toolbox([{ tools: () => builtins }, ...(mcp ? [mcp] : [])], log, config.mcp.timeoutMs);
      brain = createLlmBrain({
        baseUrl: llm.baseUrl, model: llm.model, timeoutMs: llm.timeoutMs, memory, logger: log,
        toolbox, maxToolRounds: llm.maxToolRounds,
        approvals: new ToolApprovals(config.mcp.requireApproval, store.namespace(PAUSED_NAMESPACE)),
        media: { vision: llm.vision, fileMaxChars: llm.fileMaxChars, fetchMaxBytes: MEDIA_FETCH_MAX_BYTES,
          ...(llm.transcribeModel !== undefined ? { transcribeModel: llm.transcribeModel } : {}) },
        ...(llm.apiKey !== undefined ? { apiKey: llm.apiKey } : {}),
        ...(llm.systemPrompt !== undefined ? { systemPrompt: llm.systemPrompt } : {}),
      });
      mode = { kind: "custom", brain };
    }
    const token = opts.token === null ? undefined : opts.token ?? config.token;
    const httpPort = opts.httpPort === null ? undefined : opts.httpPort ?? config.httpPort;
    agent = await startReferenceAgent({
      host: opts.host ?? config.host,
      port: opts.port ?? config.port,
      logger: log,
      mode,
      journal,
      ...(token !== undefined ? { token } : {}),
      ...(httpPort !== undefined ? { httpPort } : {}),
      ...(opts.heartbeatMs !== undefined ? { heartbeatMs: opts.heartbeatMs } : {}),
      maxFrameBytes: opts.maxFrameBytes ?? config.maxFrameBytes,
    });
    const { schedule, prompt, noopMarker } = config.proactive;
    if (schedule !== undefined && prompt !== undefined) {
      const started = agent;
      const clock = opts.clock;
      checkIns = new ProactiveCheckIns({
        schedule, prompt, noopMarker, logger: log,
        ...(clock ? { clock } : {}),
        ...(opts.timezone !== undefined ? { timezone: opts.timezone } : {}),
        produce: brain
          ? (p, signal) => (brain as LlmBrain).checkIn(checkInPrompt(p, noopMarker, (clock?.now() ?? new Date())), signal)
          : async (p) => p,
        emit: (text) => started.emitProactive("*", text),
      });
      checkIns.start();
    }
    log.info({ mode: brain ? "llm" : "echo", model: brain ? llm.model : undefined, store: store.location, checkIns: checkIns !== undefined },
      "reference agent configured");
    const running = agent;
    const stopCheckIns = checkIns;
    let closing: Promise<void> | undefined;
    return {
      ...running,
      mode: brain ? "llm" : "echo",
      checkIns,
      unackedFrames: () => journal.size(),
      close: () => {
        closing ??= (async () => {
          try {
            clearInterval(sweeps);
            await stopCheckIns?.stop();
            await running.close();
            await mcp?.close();
          } finally {
            await store.close();
          }
        })();
        return closing;
      },
    };
  } catch (err) {
    clearInterval(sweeps);
    await checkIns?.stop().catch(() => undefined);
    await agent?.close().catch(() => undefined);
    await mcp?.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    throw err;
  }
}
