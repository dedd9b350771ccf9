// Starts the real bot against the homeserver double: in-process through createApp, or as a child process
// from dist/ (for crash tests). Every captured log line is checked for secrets when the bot stops.
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createApp, type App, type AppOverrides } from "../../src/app";
import { loadConfig } from "../../src/config";
import { killGroup, spawnGroup } from "./child-processes";
import { assertNoSecrets, LogCapture } from "./log-capture";

/** The project root: the nearest directory above this file with a package.json (also from a compiled copy, e.g. dist-bench/). */
export const ROOT = projectRoot(__dirname);
export const MAIN_JS = path.join(ROOT, "dist", "src", "main.js");

/** Millisecond timings so tests run fast; every one is a documented variable. */
export const FAST_TIMINGS: Record<string, string> = {
  MATRIX_SYNC_TIMEOUT_MS: "200",
  MATRIX_REQUEST_TIMEOUT_MS: "5000",
  MATRIX_RETRY_BASE_MS: "10",
  MATRIX_RETRY_MAX_MS: "100",
  AGENT_HEARTBEAT_MS: "1000",
  AGENT_PONG_TIMEOUT_MS: "500",
  AGENT_RECONNECT_BASE_MS: "10",
  AGENT_RECONNECT_MAX_MS: "200",
  AGENT_RECONNECT_RESET_MS: "500",
  RUN_START_TIMEOUT_MS: "2000",
  RUN_IDLE_TIMEOUT_MS: "3000",
  RUN_DEADLINE_MS: "10000",
  TYPING_TIMEOUT_MS: "1000",
  TYPING_DELAY_MS: "0", // typing at once, so the tests see it even for instant answers (one test sets a delay)
  PLACEHOLDER_DELAY_MS: "5000",
  SHUTDOWN_GRACE_MS: "2000",
};

function projectRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "package.json"))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(from, "..", "..");
  }
}

export function makeDataDir(): string {
  return mkdtempSync(path.join(tmpdir(), "mab-test-"));
}

export function botEnv(opts: { homeserverUrl: string; accessToken: string; dataDir: string; extra?: Record<string, string> }): Record<string, string> {
  return {
    MATRIX_HOMESERVER_URL: opts.homeserverUrl,
    MATRIX_MODE: "client",
    MATRIX_ACCESS_TOKEN: opts.accessToken,
    DATA_DIR: opts.dataDir,
    HTTP_BIND: "127.0.0.1:0",
    LOG_LEVEL: "trace",
    ...FAST_TIMINGS,
    ...opts.extra,
  };
}

/** Every secret the bot is given: those in its environment, and the tokens of its appservice registration file. */
function secretsOf(env: Record<string, string>): string[] {
  const fromEnv = ["MATRIX_ACCESS_TOKEN", "AGENT_TOKEN", "PROACTIVE_TOKEN", "CRYPTO_PASSPHRASE", "LLM_API_KEY"].map((k) => env[k] ?? "");
  const registration = env["MATRIX_REGISTRATION"];
  const fromFile = registration !== undefined && existsSync(registration)
    ? [...readFileSync(registration, "utf8").matchAll(/^(?:as_token|hs_token):\s*(\S+)\s*$/gm)].map((m) => m[1] ?? "") : [];
  return [...fromEnv, ...fromFile].filter((v) => v !== "");
}

export interface RunningBot {
  readonly logs: LogCapture;
  stop(): Promise<void>;
}

export class InProcessBot implements RunningBot {
  /** Secrets read from files (registration tokens) are passed here so the log check covers them too. */
  readonly logs = new LogCapture();
  readonly app: App;

  constructor(private readonly env: Record<string, string>, private readonly extraSecrets: string[] = [],
    overrides: Omit<AppOverrides, "logDestination" | "logPretty"> = {}) {
    const loaded = loadConfig(env);
    if (!loaded.ok) throw new Error(loaded.message);
    this.app = createApp(loaded.config, { ...overrides, logDestination: this.logs, logPretty: false });
  }

  async start(): Promise<this> {
    await this.app.start();
    return this;
  }

  async stop(): Promise<void> {
    await this.app.stop();
    assertNoSecrets(this.logs.raw, [...secretsOf(this.env), ...this.extraSecrets]);
  }
}

/**
 * A compiled script from dist/ as a child process that logs pino JSON lines on stdout: wait for its ready line,
 * signal it, stop it (SIGTERM unless it already exited). stderr goes to `stderr`, or into `logs` when asked.
 * It runs in a process group of its own (killed by the test environment if the test leaves it running), with
 * only PATH and `env` as its environment, in an empty working folder of its own: never the project root, whose
 * .env and data/ are the user's.
 */
export class ScriptProcess {
  readonly logs = new LogCapture();
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The child's working folder (empty, removed when it exits). */
  readonly cwd = mkdtempSync(path.join(tmpdir(), "mab-cwd-"));
  protected readonly child: ChildProcess;

  /** `nodeArgs` go to node itself (e.g. `--cpu-prof` for benchmarks), `args` to the script. */
  constructor(script: string, env: Record<string, string>, private readonly readyLine: { msg: string; what: string },
    opts: { args?: string[]; nodeArgs?: string[]; stderrIntoLogs?: boolean } = {}) {
    if (!existsSync(script)) throw new Error(`${script} is missing: run \`npm run build\` (npm test does it)`);
    this.child = spawnGroup(process.execPath, [...(opts.nodeArgs ?? []), script, ...(opts.args ?? [])], {
      cwd: this.cwd,
      env: { PATH: process.env["PATH"] ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child.stdout?.on("data", (chunk: Buffer) => this.logs.append(chunk.toString()));
    this.child.stderr?.on("data", (chunk: Buffer) =>
      opts.stderrIntoLogs === true ? this.logs.append(chunk.toString()) : this.stderr.push(chunk.toString()));
    this.exited = new Promise((resolve) => this.child.on("exit", (code, signal) => {
      rmSync(this.cwd, { recursive: true, force: true });
      resolve({ code, signal });
    }));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  async ready(timeoutMs?: number): Promise<this> {
    await this.logs.waitFor((l) => l.msg === this.readyLine.msg, this.readyLine.what, timeoutMs);
    return this;
  }

  /** Signals the child's process group. */
  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    killGroup(this.child, signal);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) killGroup(this.child, "SIGTERM");
    await this.exited;
  }
}

/** The bot (dist/src/main.js) as a child process; stop() also checks its output for secrets and crashes. */
export class ChildBot extends ScriptProcess implements RunningBot {
  /** Read at start: the registration file may be gone by the time the bot stops. */
  private readonly secrets: string[];

  /** `nodeArgs` go to node itself (e.g. `--cpu-prof` for benchmarks), `args` to the bot. */
  constructor(env: Record<string, string>, args: string[] = [], opts: { nodeArgs?: string[] } = {}) {
    super(MAIN_JS, env, { msg: "ready", what: "the bot's ready line" }, { args, ...opts });
    this.secrets = secretsOf(env);
  }

  /** The port of its HTTP server (/metrics), from its log; undefined before it listens. */
  get httpPort(): number | undefined {
    const line = this.logs.find((l) => typeof l.msg === "string" && l.msg.startsWith("HTTP server listening"));
    return typeof line?.["port"] === "number" ? line["port"] : undefined;
  }

  /** The port of its appservice listener, from its log; undefined before it listens (or in client mode). */
  get appservicePort(): number | undefined {
    const line = this.logs.find((l) => l.msg === "appservice server listening");
    return typeof line?.["port"] === "number" ? line["port"] : undefined;
  }

  override async stop(): Promise<void> {
    await super.stop();
    assertNoSecrets([...this.logs.raw, ...this.stderr], this.secrets);
    const problems = this.logs.lines().filter((l) => /unhandledRejection|uncaughtException/.test(l.msg ?? ""));
    if (problems.length > 0) throw new Error(`the bot process logged: ${problems.map((p) => p.msg).join("; ")}`);
  }
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Where a started bot's appservice listener is (APPSERVICE_BIND port 0: the OS picked it), for hs.moveAppservice.
 * A port asked for first and bound later (or again, after a restart) can be taken meanwhile on a busy machine.
 */
export function appserviceUrlOf(bot: { readonly appservicePort: number | undefined } | { readonly app: { readonly appservicePort: number | undefined } }): string {
  const port = "app" in bot ? bot.app.appservicePort : bot.appservicePort;
  if (port === undefined) throw new Error("the bot's appservice listener is not listening (start the bot in appservice mode first)");
  return `http://127.0.0.1:${port}`;
}

/** A port free at the moment of asking (for registrations that must name the bot's URL before it starts). */
export async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Writes an appservice registration YAML into dir and returns its path and tokens; `flags` are extra top-level booleans. */
export function writeRegistration(dir: string, opts: { port: number; localpart?: string; serverName?: string; flags?: Record<string, boolean> }): {
  path: string; asToken: string; hsToken: string; senderLocalpart: string; url: string;
} {
  const { randomBytes } = require("node:crypto") as typeof import("node:crypto");
  const { writeFileSync } = require("node:fs") as typeof import("node:fs");
  const asToken = `as_${randomBytes(16).toString("hex")}`;
  const hsToken = `hs_${randomBytes(16).toString("hex")}`;
  const senderLocalpart = opts.localpart ?? "agentbot";
  const url = `http://127.0.0.1:${opts.port}`;
  const file = path.join(dir, "registration.yaml");
  writeFileSync(file, [
    "id: matrix-agent-bot", `url: ${url}`, `as_token: ${asToken}`, `hs_token: ${hsToken}`,
    `sender_localpart: ${senderLocalpart}`, "rate_limited: false",
    ...Object.entries(opts.flags ?? {}).map(([flag, on]) => `${JSON.stringify(flag)}: ${on}`), "namespaces:", "  users:",
    `    - exclusive: true`, `      regex: "@${senderLocalpart}:${(opts.serverName ?? "localhost").replace(/\./g, "\\\\.")}"`,
    // The named agents' own users, as `npm run register` reserves them (src/app/agent-users.ts).
    `    - exclusive: true`, `      regex: "@${senderLocalpart}_.*:${(opts.serverName ?? "localhost").replace(/\./g, "\\\\.")}"`,
    "  aliases: []", "  rooms: []", "",
  ].join("\n"));
  return { path: file, asToken, hsToken, senderLocalpart, url };
}

export function appserviceEnv(opts: { homeserverUrl: string; registrationPath: string; port?: number; dataDir: string;
  extra?: Record<string, string> }): Record<string, string> {
  return {
    MATRIX_HOMESERVER_URL: opts.homeserverUrl,
    MATRIX_REGISTRATION: opts.registrationPath,
    APPSERVICE_BIND: `127.0.0.1:${opts.port ?? 0}`, // 0: the OS picks (see appserviceUrlOf)
    DATA_DIR: opts.dataDir,
    HTTP_BIND: "127.0.0.1:0",
    LOG_LEVEL: "trace",
    ...FAST_TIMINGS,
    ...opts.extra,
  };
}
