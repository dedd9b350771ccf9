// Configuration of the reference agent (echo, or any OpenAI-compatible LLM), same style as the bot's.
import * as path from "node:path";
import { formatProblems, ProblemList, readVariable, type Env, type LoadResult } from "../config/problems";
import { httpUrlVar, logLevelVar, portVar, textVar, type LogLevel } from "../config/schema";

export interface AgentConfig {
  readonly host: string;
  readonly port: number;
  /** Bearer token the bot must present; unset: no authentication (bind to localhost only). */
  readonly token?: string;
  readonly dataDir: string;
  readonly logLevel: LogLevel;
  /** Unset baseUrl: the agent echoes. */
  readonly llm: {
    readonly baseUrl?: string;
    readonly model?: string;
    readonly apiKey?: string;
    readonly systemPrompt?: string;
  };
  readonly proactive: { readonly schedule?: string; readonly prompt?: string };
  /** Every configured secret value, for the log redactor. */
  readonly secrets: string[];
}

export type AgentConfigResult = LoadResult<AgentConfig>;

/** Every variable the reference agent reads. */
export const AGENT_ENV_VARIABLES: readonly string[] = [
  "AGENT_HOST",
  "AGENT_PORT",
  "AGENT_TOKEN",
  "DATA_DIR",
  "LOG_LEVEL",
  "LLM_BASE_URL",
  "LLM_MODEL",
  "LLM_API_KEY",
  "LLM_SYSTEM_PROMPT",
  "PROACTIVE_SCHEDULE",
  "PROACTIVE_PROMPT",
];

const PROGRAM = "matrix-agent-bot reference agent";

export function loadAgentConfig(env: Env): AgentConfigResult {
  const problems = new ProblemList();
  const host =
    problems.parse(env, "AGENT_HOST", textVar.regex(/^\S+$/, { error: "contains spaces" }), "set AGENT_HOST to a host name or address, e.g. 127.0.0.1") ??
    "127.0.0.1";
  const port = problems.parse(env, "AGENT_PORT", portVar(), "set AGENT_PORT to a port from 0 to 65535 (default 8790)") ?? 8790;
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
  const schedule = readVariable(env, "PROACTIVE_SCHEDULE");
  const prompt = readVariable(env, "PROACTIVE_PROMPT", true);

  if (problems.items.length > 0) {
    return { ok: false, problems: problems.items, message: formatProblems(PROGRAM, problems.items) };
  }
  const secrets = [...new Set([token, apiKey].filter((s): s is string => s !== undefined))];
  return {
    ok: true,
    config: {
      host,
      port,
      ...(token !== undefined ? { token } : {}),
      dataDir,
      logLevel,
      llm: {
        ...(baseUrl !== undefined ? { baseUrl } : {}),
        ...(model !== undefined ? { model } : {}),
        ...(apiKey !== undefined ? { apiKey } : {}),
        ...(systemPrompt !== undefined ? { systemPrompt } : {}),
      },
      proactive: {
        ...(schedule !== undefined ? { schedule } : {}),
        ...(prompt !== undefined ? { prompt } : {}),
      },
      secrets,
    },
  };
}
