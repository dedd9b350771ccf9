// Configuration of the reference agent (echo, or any OpenAI-compatible LLM), same style as the bot's.
import * as path from "node:path";
import { Cron } from "croner";
import { formatProblems, ProblemList, readVariable, type Env, type LoadResult } from "../config/problems";
import { booleanVar, httpUrlVar, logLevelVar, MAX_TIMER_MS, portVar, positiveIntVar, textVar, type LogLevel } from "../config/schema";
import { approvalGlobListVar, mcpSecrets, mcpServersVar, toolGlobListVar, type McpServerConfig } from "./tools/mcp-config";

/** Defaults of the reference agent's tunables (see .env.example). */
export const AGENT_CONFIG_DEFAULTS = {
  /** Longest the LLM provider may stay silent: before its answer starts, and between streamed chunks. */
  llmTimeoutMs: 45_000,
  /** History budget per thread, in characters (about 4 characters per token), system prompt included. */
  historyMaxChars: 32_000,
  /** A conversation's history is deleted after this many days without a run. */
  historyTtlDays: 30,
  /** A proactive answer containing this sends nothing. */
  noopMarker: "[[nothing]]",
  /** The bot's AGENT_MAX_FRAME_BYTES default. */
  maxFrameBytes: 1_048_576,
  /** Model requests per run that may call tools; the last one must answer. */
  maxToolRounds: 8,
  /** Longest an MCP server may take to connect, list its tools, or answer one call. */
  mcpTimeoutMs: 60_000,
  /** Characters of one text file the model reads (the rest is cut, and it is told so). */
  fileMaxChars: 20_000,
} as const;

export interface AgentConfig {
  readonly host: string;
  readonly port: number;
  /** AGENT_HTTP_PORT: also serve AG-UI over HTTP + SSE there (`npm run agent` only). */
  readonly httpPort?: number;
  /** Bearer token the bot must present; unset: no authentication (bind to localhost only). */
  readonly token?: string;
  readonly dataDir: string;
  readonly logLevel: LogLevel;
  /** AGENT_MAX_FRAME_BYTES: largest frame accepted from the bot (the bot's limit and MEDIA_INLINE_MAX_BYTES follow it). */
  readonly maxFrameBytes: number;
  /** Unset baseUrl: the agent echoes. */
  readonly llm: {
    readonly baseUrl?: string;
    readonly model?: string;
    readonly apiKey?: string;
    readonly systemPrompt?: string;
    /** LLM_TIMEOUT_MS: longest silence from the provider (before the answer starts, between chunks). */
    readonly timeoutMs: number;
    /** LLM_HISTORY_MAX_CHARS: characters of conversation sent per request, system prompt included. */
    readonly historyMaxChars: number;
    /** LLM_HISTORY_TTL_DAYS: a conversation's history is deleted after this many days unused. */
    readonly historyTtlDays: number;
    /** LLM_MAX_TOOL_ROUNDS: model requests per run that may call tools. */
    readonly maxToolRounds: number;
    /** LLM_VISION: images go to the model (image_url data URLs). */
    readonly vision: boolean;
    /** LLM_TRANSCRIBE_MODEL: audio and voice messages are transcribed (POST /audio/transcriptions) with it. */
    readonly transcribeModel?: string;
    /** LLM_FILE_MAX_CHARS: characters of a text file the model reads. */
    readonly fileMaxChars: number;
  };
  /** MCP servers whose allowed tools the model may call (LLM mode only). */
  readonly mcp: {
    /** MCP_SERVERS: name → stdio command or streamable HTTP URL. */
    readonly servers: Readonly<Record<string, McpServerConfig>>;
    /** MCP_TOOLS_ALLOW: globs over `<server>.<tool>`; unset: the MCP tools that require approval, else none. */
    readonly allow: readonly string[];
    /** LLM_TOOLS_REQUIRE_APPROVAL: tools (built-in names, MCP `<server>.<tool>` globs) whose calls wait for a person's approval. */
    readonly requireApproval: readonly string[];
    /** MCP_TIMEOUT_MS. */
    readonly timeoutMs: number;
  };
  readonly proactive: {
    /** Cron pattern (5 fields, or 6 with seconds first), in the agent's local time zone. */
    readonly schedule?: string;
    readonly prompt?: string;
    /** An answer containing this marker (or an empty one) posts nothing. */
    readonly noopMarker: string;
  };
  /** Every configured secret value, for the log redactor. */
  readonly secrets: string[];
}

export type AgentConfigResult = LoadResult<AgentConfig>;

/** Every variable the reference agent reads. */
export const AGENT_ENV_VARIABLES: readonly string[] = [
  "AGENT_HOST",
  "AGENT_PORT",
  "AGENT_HTTP_PORT",
  "AGENT_TOKEN",
  "DATA_DIR",
  "LOG_LEVEL",
  "AGENT_MAX_FRAME_BYTES",
  "LLM_BASE_URL",
  "LLM_MODEL",
  "LLM_API_KEY",
  "LLM_SYSTEM_PROMPT",
  "LLM_TIMEOUT_MS",
  "LLM_HISTORY_MAX_CHARS",
  "LLM_HISTORY_TTL_DAYS",
  "LLM_MAX_TOOL_ROUNDS",
  "LLM_VISION",
  "LLM_TRANSCRIBE_MODEL",
  "LLM_FILE_MAX_CHARS",
  "MCP_SERVERS",
  "MCP_TOOLS_ALLOW",
  "LLM_TOOLS_REQUIRE_APPROVAL",
  "MCP_TIMEOUT_MS",
  "PROACTIVE_SCHEDULE",
  "PROACTIVE_PROMPT",
  "PROACTIVE_NOOP_MARKER",
];

/** Why a cron pattern is invalid, or undefined when croner accepts it. */
export function cronProblem(pattern: string): string | undefined {
  try {
    new Cron(pattern, { paused: true });
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message.replace(/^CronPattern: /, "") : "is not a cron pattern";
  }
}

const PROGRAM = "matrix-agent-bot reference agent";

export function loadAgentConfig(env: Env): AgentConfigResult {
  const problems = new ProblemList();
  const host =
    problems.parse(env, "AGENT_HOST", textVar.regex(/^\S+$/, { error: "contains spaces" }), "set AGENT_HOST to a host name or address, e.g. 127.0.0.1") ??
    "127.0.0.1";
  const port = problems.parse(env, "AGENT_PORT", portVar(), "set AGENT_PORT to a port from 0 to 65535 (default 8790)") ?? 8790;
  const httpPort = problems.parse(env, "AGENT_HTTP_PORT", portVar(),
    "set AGENT_HTTP_PORT to a port from 0 to 65535 to serve AG-UI over HTTP + SSE there, or leave it unset");
  const token = readVariable(env, "AGENT_TOKEN");
  const dataDir = path.resolve(readVariable(env, "DATA_DIR") ?? "./data");
  const logLevel =
    problems.parse(env, "LOG_LEVEL", logLevelVar, "set LOG_LEVEL to info (or fatal, error, warn, debug, trace, silent)") ??
    "info";
  const baseUrl = problems.parse(
    env,
    "LLM_BASE_URL",
    httpUrlVar,
    "set LLM_BASE_URL to an OpenAI-compatible API base, e.g. https://api.openai.com/v1, or leave it unset for the echo agent",
  );
  const model = readVariable(env, "LLM_MODEL");
  if (readVariable(env, "LLM_BASE_URL") !== undefined && model === undefined) {
    problems.add(
      "LLM_MODEL",
      "is not set, but LLM_BASE_URL is: the agent needs to know which model to ask",
      "set LLM_MODEL to a model the endpoint serves, e.g. LLM_MODEL=gpt-4o-mini",
    );
  }
  const apiKey = readVariable(env, "LLM_API_KEY");
  const systemPrompt = readVariable(env, "LLM_SYSTEM_PROMPT", true);
  const timeoutMs =
    problems.parse(env, "LLM_TIMEOUT_MS", positiveIntVar(MAX_TIMER_MS), "set LLM_TIMEOUT_MS to milliseconds, e.g. 45000") ??
    AGENT_CONFIG_DEFAULTS.llmTimeoutMs;
  const historyMaxChars =
    problems.parse(env, "LLM_HISTORY_MAX_CHARS", positiveIntVar(), "set LLM_HISTORY_MAX_CHARS to a number of characters, e.g. 32000") ??
    AGENT_CONFIG_DEFAULTS.historyMaxChars;
  const historyTtlDays =
    problems.parse(env, "LLM_HISTORY_TTL_DAYS", positiveIntVar(36_500), "set LLM_HISTORY_TTL_DAYS to a number of days, e.g. 30") ??
    AGENT_CONFIG_DEFAULTS.historyTtlDays;
  const maxFrameBytes = problems.parse(env, "AGENT_MAX_FRAME_BYTES", positiveIntVar(),
    "set AGENT_MAX_FRAME_BYTES to the same number of bytes as the bot's (default 1048576)") ?? AGENT_CONFIG_DEFAULTS.maxFrameBytes;
  const maxToolRounds = problems.parse(env, "LLM_MAX_TOOL_ROUNDS", positiveIntVar(100, 0),
    "set LLM_MAX_TOOL_ROUNDS to how many model requests of one answer may call tools, e.g. 8 (0: no tools)") ?? AGENT_CONFIG_DEFAULTS.maxToolRounds;
  const vision = problems.parse(env, "LLM_VISION", booleanVar, "set LLM_VISION to true (the model sees images) or false") ?? false;
  const transcribeModel = readVariable(env, "LLM_TRANSCRIBE_MODEL");
  const fileMaxChars = problems.parse(env, "LLM_FILE_MAX_CHARS", positiveIntVar(),
    "set LLM_FILE_MAX_CHARS to how many characters of a text file the model reads, e.g. 20000") ?? AGENT_CONFIG_DEFAULTS.fileMaxChars;
  const servers = problems.parse(env, "MCP_SERVERS", mcpServersVar,
    'set MCP_SERVERS to a JSON object, e.g. {"files":{"command":"npx","args":["-y","@modelcontextprotocol/server-filesystem","/srv"]},"web":{"url":"http://127.0.0.1:3001/mcp"}}',
    { secret: true }) ?? {};
  const requireApproval = problems.parse(env, "LLM_TOOLS_REQUIRE_APPROVAL", approvalGlobListVar,
    "set LLM_TOOLS_REQUIRE_APPROVAL to comma-separated tool names or globs over <server>.<tool>, e.g. calculator,mail.send_*") ?? [];
  // With approvals in place, MCP tools that need one are offered by default (each call is asked for first).
  const allow = problems.parse(env, "MCP_TOOLS_ALLOW", toolGlobListVar,
    "set MCP_TOOLS_ALLOW to comma-separated globs over <server>.<tool>, e.g. files.read_*,web.search")
    ?? requireApproval.filter((g) => g.includes("."));
  const mcpTimeoutMs = problems.parse(env, "MCP_TIMEOUT_MS", positiveIntVar(MAX_TIMER_MS),
    "set MCP_TIMEOUT_MS to milliseconds, e.g. 60000") ?? AGENT_CONFIG_DEFAULTS.mcpTimeoutMs;
  if (Object.keys(servers).length > 0 && readVariable(env, "LLM_BASE_URL") === undefined) {
    problems.add("MCP_SERVERS", "is set, but LLM_BASE_URL is not: only a model calls tools (the echo agent does not)",
      "set LLM_BASE_URL and LLM_MODEL, or unset MCP_SERVERS");
  }
  const schedule = readVariable(env, "PROACTIVE_SCHEDULE");
  const prompt = readVariable(env, "PROACTIVE_PROMPT", true);
  const noopMarker = readVariable(env, "PROACTIVE_NOOP_MARKER") ?? AGENT_CONFIG_DEFAULTS.noopMarker;
  if (schedule !== undefined) {
    const problem = cronProblem(schedule);
    if (problem !== undefined) {
      problems.add(
        "PROACTIVE_SCHEDULE",
        `${JSON.stringify(schedule)} is not a cron pattern: ${problem}`,
        'set PROACTIVE_SCHEDULE to 5 cron fields (minute hour day month weekday), or 6 with seconds first, e.g. "0 9 * * 1-5"',
      );
    } else if (prompt === undefined) {
      problems.add(
        "PROACTIVE_PROMPT",
        "is not set, but PROACTIVE_SCHEDULE is: a check-in needs a prompt",
        "set PROACTIVE_PROMPT to what the agent is asked at each check-in, or unset PROACTIVE_SCHEDULE",
      );
    }
  }

  if (problems.items.length > 0) {
    return { ok: false, problems: problems.items, message: formatProblems(PROGRAM, problems.items) };
  }
  const secrets = [...new Set([token, apiKey, ...mcpSecrets(servers)].filter((s): s is string => s !== undefined))];
  return {
    ok: true,
    config: {
      host,
      port,
      ...(httpPort !== undefined ? { httpPort } : {}),
      ...(token !== undefined ? { token } : {}),
      dataDir,
      logLevel,
      maxFrameBytes,
      llm: {
        ...(baseUrl !== undefined ? { baseUrl } : {}),
        ...(model !== undefined ? { model } : {}),
        ...(apiKey !== undefined ? { apiKey } : {}),
        ...(systemPrompt !== undefined ? { systemPrompt } : {}),
        timeoutMs,
        historyMaxChars,
        historyTtlDays,
        maxToolRounds,
        vision,
        ...(transcribeModel !== undefined ? { transcribeModel } : {}),
        fileMaxChars,
      },
      mcp: { servers, allow, requireApproval, timeoutMs: mcpTimeoutMs },
      proactive: {
        ...(schedule !== undefined ? { schedule } : {}),
        ...(prompt !== undefined ? { prompt } : {}),
        noopMarker,
      },
      secrets,
    },
  };
}
