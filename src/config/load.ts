// loadConfig: the environment → a typed Config, or one message listing every problem found.
import { loadAgentConfig, type AgentConfig } from "../reference-agent/config";
import * as fs from "node:fs";
import * as path from "node:path";
import { formatProblems, ProblemList, readVariable, type ConfigProblem, type Env, type LoadResult } from "./problems";
import { loadRegistration, resolveClientCredentials, type FileAccess } from "./registration";
import { loadAgentsFile, type AgentsSetup } from "./agents-file";
import {
  bindVar,
  booleanVar,
  httpUrlVar,
  logLevelVar,
  modeVar,
  positiveIntVar,
  roomRefVar,
  storeUrlVar,
  streamingVar,
  textVar,
  userGlobListVar,
  agentUrlVar,
  type Bind,
  type LogLevel,
  type MatrixMode,
  type Registration,
  type StreamingMode,
} from "./schema";
import { TIMING_VARIABLES, type Timings } from "./variables";

export interface Config {
  readonly homeserverUrl: string;
  readonly mode: MatrixMode;
  readonly registration?: Registration;
  readonly registrationPath?: string;
  readonly appserviceBind: Bind;
  /** Client mode: MATRIX_ACCESS_TOKEN, else credentials.json. userId/deviceId only from credentials.json. */
  readonly accessToken?: string;
  readonly userId?: string;
  readonly deviceId?: string;
  readonly e2ee: boolean;
  readonly cryptoPassphrase?: string;
  readonly agent: { readonly url?: string; readonly token?: string };
  /** AGENTS_FILE: named agents and the global default (unset: AGENT_URL, or the reference agent, is the one agent). */
  readonly agents?: AgentsSetup;
  readonly dataDir: string;
  readonly storeUrl: string;
  readonly http: { readonly host: string; readonly port: number; readonly proactiveToken?: string; readonly mediaPublicUrl?: string };
  /** undefined: the bot's own server (resolved at runtime). */
  readonly allowedUsers?: string[];
  readonly botAdmins: string[];
  readonly adminRoom?: string;
  readonly botDisplayName?: string;
  readonly logLevel: LogLevel;
  readonly spacesFollowChildren: boolean;
  readonly provisionSpace: boolean;
  /** STREAMING: answers shown as they are written ("edits", the default) or only when complete ("final"). */
  readonly streaming: StreamingMode;
  readonly timings: Timings;
  /** Every configured secret value, for the log redactor. */
  readonly secrets: string[];
  /** Daily token limits (USAGE_LIMIT_TOKENS_PER_USER_DAY, USAGE_LIMIT_TOKENS_PER_ROOM_DAY); unset: none. */
  readonly usageLimits: { readonly perUserDay?: number; readonly perRoomDay?: number };
  /** The in-process reference agent's settings (only when AGENT_URL is unset). */
  readonly referenceAgent?: AgentConfig;
}

export interface LoadOptions {
  readFile?: (path: string) => string;
  fileExists?: (path: string) => boolean;
}

export type ConfigResult = LoadResult<Config>;

const PROGRAM = "matrix-agent-bot";
const DEFAULT_APPSERVICE_BIND: Bind = { host: "127.0.0.1", port: 9999 };
const DEFAULT_HTTP_BIND: Bind = { host: "127.0.0.1", port: 8080 };

function defaultFiles(options: LoadOptions): FileAccess {
  return {
    readFile: options.readFile ?? ((p) => fs.readFileSync(p, "utf8")),
    fileExists: options.fileExists ?? ((p) => fs.existsSync(p)),
  };
}

function readTimings(env: Env, problems: ProblemList): Timings {
  const timings: Record<string, number> = {};
  for (const t of TIMING_VARIABLES) {
    const fix = `set ${t.name} to a whole number from ${t.min} to ${t.max} (default ${t.defaultValue}), or leave it unset`;
    timings[t.key] = problems.parse(env, t.name, positiveIntVar(t.max, t.min), fix) ?? t.defaultValue;
  }
  const result = timings as unknown as Timings;
  const pairs: Array<[string, keyof Timings, string, keyof Timings]> = [
    ["MATRIX_RETRY_BASE_MS", "retryBaseMs", "MATRIX_RETRY_MAX_MS", "retryMaxMs"],
    ["AGENT_RECONNECT_BASE_MS", "reconnectBaseMs", "AGENT_RECONNECT_MAX_MS", "reconnectMaxMs"],
    ["ROOM_LOOKUP_RETRY_BASE_MS", "roomLookupBaseMs", "ROOM_LOOKUP_RETRY_MAX_MS", "roomLookupMaxMs"],
    ["MEDIA_MAX_BYTES", "mediaMaxBytes", "MEDIA_MAX_INFLIGHT_BYTES", "mediaMaxInflightBytes"],
  ];
  for (const [baseName, baseKey, maxName, maxKey] of pairs) {
    if (result[baseKey] > result[maxKey]) {
      problems.add(
        baseName,
        `is ${result[baseKey]}, more than ${maxName} (${result[maxKey]})`,
        `make ${baseName} at most ${maxName}`,
      );
    }
  }
  // An inline attachment travels base64-encoded (4/3) inside a run frame, with the rest of the run.
  const inlineFrame = 4 * Math.ceil(result.mediaInlineMaxBytes / 3) + 65_536;
  if (result.maxFrameBytes < inlineFrame) {
    problems.add("AGENT_MAX_FRAME_BYTES", `is ${result.maxFrameBytes}, too small for a run carrying MEDIA_INLINE_MAX_BYTES (${result.mediaInlineMaxBytes}) inline`,
      `make AGENT_MAX_FRAME_BYTES at least ${inlineFrame} (and the agent's frame limit too), or lower MEDIA_INLINE_MAX_BYTES`);
  }
  return result;
}

/** The password inside a URL's user-info, raw and decoded, so the logger can redact it. */
function urlPasswords(url: string | undefined): string[] {
  if (url === undefined) return [];
  const match = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/@\s]*:([^/@\s]+)@/.exec(url);
  if (!match?.[1]) return [];
  let decoded = match[1];
  try {
    decoded = decodeURIComponent(match[1]);
  } catch {
    // keep the raw form only
  }
  return [match[1], decoded];
}

export function loadConfig(env: Env, options: LoadOptions = {}): ConfigResult {
  const files = defaultFiles(options);
  const problems = new ProblemList();

  const configuredHomeserver = problems.parse(
    env,
    "MATRIX_HOMESERVER_URL",
    httpUrlVar,
    "set MATRIX_HOMESERVER_URL to the homeserver's client-server URL, e.g. https://matrix.example.org",
  );

  const registrationValue = readVariable(env, "MATRIX_REGISTRATION");
  const mode =
    problems.parse(env, "MATRIX_MODE", modeVar, "set MATRIX_MODE to appservice or client, or leave it unset") ??
    (registrationValue !== undefined ? "appservice" : "client");

  const dataDir = path.resolve(readVariable(env, "DATA_DIR") ?? "./data");

  let registration: Registration | undefined;
  let registrationPath: string | undefined;
  if (mode === "appservice") {
    if (registrationValue === undefined) {
      problems.add(
        "MATRIX_REGISTRATION",
        "is not set, but the bot runs in appservice mode and needs the registration file",
        "set MATRIX_REGISTRATION=/path/to/registration.yaml (the file given to the homeserver), or set MATRIX_MODE=client",
      );
    } else {
      registrationPath = path.resolve(registrationValue);
      registration = loadRegistration(registrationPath, files, problems);
    }
  }
  const appserviceBind =
    problems.parse(env, "APPSERVICE_BIND", bindVar, "set APPSERVICE_BIND to host:port, e.g. 127.0.0.1:9999") ??
    DEFAULT_APPSERVICE_BIND;

  const { homeserverUrl: savedHomeserver, ...credentials } =
    mode === "client" ? resolveClientCredentials(env, dataDir, configuredHomeserver, files, problems) : {};
  const homeserverUrl = configuredHomeserver ?? savedHomeserver;
  const homeserverProblem = problems.items.some((p) => p.variable === "MATRIX_HOMESERVER_URL");
  if (readVariable(env, "MATRIX_HOMESERVER_URL") === undefined && savedHomeserver === undefined && !homeserverProblem) {
    const setIt = "set MATRIX_HOMESERVER_URL=https://matrix.example.org in the environment or in .env (copy .env.example to .env)";
    problems.items.unshift({ // first: the one setting every start needs
      variable: "MATRIX_HOMESERVER_URL",
      problem: `is not set${mode === "client" ? `, and no usable ${path.join(dataDir, "credentials.json")} (from \`npm run login\`) names it` : ""}; ` +
        "the bot needs to know the URL of the homeserver it belongs to",
      fix: mode === "client" ? `run \`npm run login\` (it saves the homeserver URL and a token in DATA_DIR), or ${setIt}` : setIt,
    });
  }

  const e2ee = problems.parse(env, "MATRIX_E2EE", booleanVar, "set MATRIX_E2EE to true or false") ?? false;
  const cryptoPassphrase = readVariable(env, "CRYPTO_PASSPHRASE", true);
  if (e2ee && cryptoPassphrase === undefined) {
    problems.add("CRYPTO_PASSPHRASE", "is required with MATRIX_E2EE=true: it encrypts the bot's encryption keys on disk",
      "set CRYPTO_PASSPHRASE to a long random secret (e.g. `openssl rand -hex 32`) and keep it: without it the bot's device is lost");
  }

  const agentUrl = problems.parse(
    env,
    "AGENT_URL",
    agentUrlVar,
    "set AGENT_URL to the agent's WebSocket (ws://127.0.0.1:8790) or AG-UI HTTP endpoint (http://127.0.0.1:8000/agent), or leave it unset to run the reference agent in-process",
  );
  const agentToken = readVariable(env, "AGENT_TOKEN");
  const agentsFile = readVariable(env, "AGENTS_FILE");
  // AGENT_URL beside AGENTS_FILE is one more agent, named "default" (the global default unless the file names one).
  const shorthand = agentUrl !== undefined ? { url: agentUrl, ...(agentToken !== undefined ? { token: agentToken } : {}) } : undefined;
  const agents = agentsFile === undefined ? undefined : loadAgentsFile(path.resolve(agentsFile), files.readFile, env, problems, shorthand);
  // Appservice mode answers for each named agent as a user of its own (src/app/agent-users.ts); those users have no devices yet.
  const namedAgents = agents?.agents.filter((a) => a.name !== agents.defaultAgent).map((a) => a.name) ?? [];
  if (e2ee && mode === "appservice" && namedAgents.length > 0) {
    problems.add("MATRIX_E2EE", `is true in appservice mode with named agents (${namedAgents.join(", ")}), which answer as users of their own; ` +
      "those users have no encryption devices yet, so they cannot post in encrypted rooms",
    "set MATRIX_E2EE=false, or run with only the default agent in AGENTS_FILE, or use MATRIX_MODE=client (one account, agents shown by MSC4144 profiles)");
  }

  const storeUrl =
    problems.parse(
      env,
      "STORE_URL",
      storeUrlVar,
      "use sqlite://<path>, postgres://…, postgresql://…, redis://… or rediss://…, or leave STORE_URL unset for sqlite in DATA_DIR",
    ) ?? `sqlite://${path.join(dataDir, "bot.sqlite")}`;

  const httpBind =
    problems.parse(env, "HTTP_BIND", bindVar, "set HTTP_BIND to host:port, e.g. 127.0.0.1:8080") ?? DEFAULT_HTTP_BIND;
  const proactiveToken = readVariable(env, "PROACTIVE_TOKEN");
  const mediaPublicUrl = problems.parse(env, "MEDIA_PUBLIC_URL", httpUrlVar,
    "set MEDIA_PUBLIC_URL to where the agent reaches the bot's HTTP server, e.g. https://bot.example.org, or leave it unset (HTTP_BIND's address)");

  const globFix = (name: string): string =>
    `set ${name} to comma-separated user ids or globs, e.g. @alice:example.org,@*:example.org`;
  const allowedUsers = problems.parse(env, "ALLOWED_USERS", userGlobListVar, globFix("ALLOWED_USERS"));
  const botAdmins = problems.parse(env, "BOT_ADMINS", userGlobListVar, globFix("BOT_ADMINS")) ?? [];
  const adminRoom = problems.parse(
    env,
    "ADMIN_ROOM",
    roomRefVar,
    "set ADMIN_ROOM to a room id like !abc:example.org or an alias like #bot-admin:example.org",
  );
  const botDisplayName = problems.parse(env, "BOT_DISPLAY_NAME", textVar, "");
  const logLevel =
    problems.parse(env, "LOG_LEVEL", logLevelVar, "set LOG_LEVEL to info (or fatal, error, warn, debug, trace, silent)") ??
    "info";
  const spacesFollowChildren =
    problems.parse(env, "SPACES_FOLLOW_CHILDREN", booleanVar, "set SPACES_FOLLOW_CHILDREN to true or false") ?? true;
  const provisionSpace =
    problems.parse(env, "PROVISION_SPACE", booleanVar, "set PROVISION_SPACE to true or false") ?? false;
  const streaming = problems.parse(env, "STREAMING", streamingVar, "set STREAMING to edits or final, or leave it unset") ?? "edits";
  const timings = readTimings(env, problems);
  const limitFix = (name: string): string => `set ${name} to a positive whole number of tokens, or leave it unset for no limit`;
  const perUserDay = problems.parse(env, "USAGE_LIMIT_TOKENS_PER_USER_DAY", positiveIntVar(), limitFix("USAGE_LIMIT_TOKENS_PER_USER_DAY"));
  const perRoomDay = problems.parse(env, "USAGE_LIMIT_TOKENS_PER_ROOM_DAY", positiveIntVar(), limitFix("USAGE_LIMIT_TOKENS_PER_ROOM_DAY"));

  // Without AGENT_URL the reference agent runs in-process: its variables (LLM_*, PROACTIVE_*) count too.
  let referenceAgent: AgentConfig | undefined;
  if (agentUrl === undefined && readVariable(env, "AGENT_URL") === undefined && agentsFile === undefined) {
    const agent = loadAgentConfig(env);
    if (agent.ok) referenceAgent = agent.config;
    else for (const p of agent.problems) if (!problems.items.some((q) => q.variable === p.variable)) problems.add(p.variable, p.problem, p.fix);
  }

  if (problems.items.length > 0 || homeserverUrl === undefined) {
    return failure(problems.items);
  }

  const secretValues = [
    credentials.accessToken,
    registration?.as_token,
    registration?.hs_token,
    agentToken,
    ...(agents?.agents.map((a) => a.token) ?? []),
    proactiveToken,
    cryptoPassphrase,
    readVariable(env, "LLM_API_KEY"),
    ...(referenceAgent?.secrets ?? []), // the in-process agent's (MCP header and env values)
    ...urlPasswords(storeUrl),
    ...urlPasswords(agentUrl),
    ...(agents?.agents.flatMap((a) => urlPasswords(a.url)) ?? []),
  ];
  const secrets = [...new Set(secretValues.filter((s): s is string => s !== undefined && s !== ""))];

  const config: Config = {
    homeserverUrl,
    mode,
    ...(registration !== undefined ? { registration } : {}),
    ...(registrationPath !== undefined ? { registrationPath } : {}),
    appserviceBind,
    ...credentials,
    e2ee,
    ...(cryptoPassphrase !== undefined ? { cryptoPassphrase } : {}),
    agent: { ...(agentUrl !== undefined ? { url: agentUrl } : {}), ...(agentToken !== undefined ? { token: agentToken } : {}) },
    ...(agents !== undefined ? { agents } : {}),
    dataDir,
    storeUrl,
    http: { ...httpBind, ...(proactiveToken !== undefined ? { proactiveToken } : {}), ...(mediaPublicUrl !== undefined ? { mediaPublicUrl } : {}) },
    ...(allowedUsers !== undefined ? { allowedUsers } : {}),
    botAdmins,
    ...(adminRoom !== undefined ? { adminRoom } : {}),
    ...(botDisplayName !== undefined ? { botDisplayName } : {}),
    logLevel,
    spacesFollowChildren,
    provisionSpace,
    streaming,
    timings,
    usageLimits: { ...(perUserDay !== undefined ? { perUserDay } : {}), ...(perRoomDay !== undefined ? { perRoomDay } : {}) },
    secrets,
    ...(referenceAgent !== undefined ? { referenceAgent } : {}),
  };
  return { ok: true, config };
}

function failure(problems: ConfigProblem[]): ConfigResult {
  return { ok: false, problems, message: formatProblems(PROGRAM, problems) };
}

/**
 * A configuration valid by itself that the bot refuses at start once it sees its surroundings (MATRIX_E2EE=true where
 * another instance holds the store lease: src/app/standby.ts). src/main.ts reports it like loadConfig's problems, on
 * stderr, and exits with code 2 (a configuration problem: a supervisor does not restart it).
 */
export class ConfigRefusedError extends Error {
  constructor(readonly problems: ConfigProblem[], logText: string) {
    super(logText);
    this.name = "ConfigRefusedError";
  }

  /** The text loadConfig would print for these problems. */
  get report(): string {
    return formatProblems(PROGRAM, this.problems);
  }
}
