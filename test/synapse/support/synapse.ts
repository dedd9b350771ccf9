// The real Synapse 1.67 of ../shared/synapse/ driven through its own scripts (start.sh, register.sh, stop.sh):
// where it lives, starting it (failing with its log's tail, never skipping), users, stopping it. Async only: the
// reference agent and the bot's log capture run in this process and must not be blocked.
import { execFile, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { ROOT } from "../../support/bot-harness";
import { cacheVenv, useCachedVenv } from "./venv-cache";

/** The directory holding start.sh, register.sh and stop.sh. */
export function synapseDir(): string {
  const given = process.env["SYNAPSE_DIR"];
  if (given !== undefined && given !== "") {
    const dir = path.resolve(ROOT, given);
    if (!existsSync(path.join(dir, "start.sh"))) throw new Error(`SYNAPSE_DIR=${given}: no start.sh in ${dir}`);
    return dir;
  }
  // CI clones the project next to shared/: <project>/../shared/synapse. A git worktree one level deeper (e.g.
  // <checkout>/wt/<name>) finds the same directory beside an ancestor; a fresh clone of a local checkout made
  // elsewhere (`git clone -q . "$(mktemp -d)"`) finds it beside the checkout it was cloned from.
  const tried: string[] = [];
  for (const start of [ROOT, localOrigin()]) {
    if (start === undefined) continue;
    for (let dir = path.dirname(start); ; dir = path.dirname(dir)) {
      const candidate = path.join(dir, "shared", "synapse");
      tried.push(candidate);
      if (existsSync(path.join(candidate, "start.sh"))) return candidate;
      if (path.dirname(dir) === dir) break;
    }
  }
  throw new Error(`no Synapse scripts found (looked for start.sh in ${tried.join(", ")}); set SYNAPSE_DIR to the directory of start.sh`);
}

/** The checkout this one was cloned from, when that was a local folder (remote "origin" a path or file:// URL). */
function localOrigin(): string | undefined {
  const url = spawnSync("git", ["-C", ROOT, "config", "--get", "remote.origin.url"], { encoding: "utf8" }).stdout?.trim();
  if (!url) return undefined;
  const local = url.startsWith("file://") ? url.slice("file://".length) : url;
  return path.isAbsolute(local) && existsSync(local) ? path.resolve(local) : undefined;
}

/** One Synapse: its STATE directory (owned by start.sh) and its port on 127.0.0.1. */
export interface SynapseServer {
  dir: string;
  state: string;
  port: number;
  url: string;
}

function run(script: string, args: string[], env: Record<string, string> = {}, timeoutMs = 600_000): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(script, args, { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        const err = new Error(`${path.basename(script)} ${args.join(" ")} failed (${error.message.split("\n")[0] ?? ""})\n` +
          `--- its output ---\n${stdout}${stderr}`);
        reject(err);
      } else resolve({ stdout, stderr });
    });
  });
}

/** The last lines of Synapse's log, for a failure message. */
export function logTail(server: Pick<SynapseServer, "state">, lines = 30): string {
  const file = path.join(server.state, "homeserver.log");
  if (!existsSync(file)) return `(no ${file})`;
  return readFileSync(file, "utf8").split("\n").slice(-lines - 1).join("\n");
}

/** The requests Synapse's access log recorded so far, as `METHOD /path?query` (the requester left out). */
export function requestsServed(server: Pick<SynapseServer, "state">): string[] {
  const file = path.join(server.state, "homeserver.log");
  if (!existsSync(file)) return [];
  return [...readFileSync(file, "utf8").matchAll(/synapse\.access\.http.* Processed request: .*"([A-Z]+ \S+) HTTP\/1\.[01]"/g)]
    .map((m) => m[1] ?? "");
}

/**
 * Starts Synapse with these appservice registrations; `rateLimits: "default"` keeps Synapse's own rate limits.
 * The first start on a machine installs the Debian packages (about a minute); Synapse itself is installed into
 * STATE once and then cached (venv-cache.ts). Throws with the log's tail.
 */
export async function startSynapse(opts: { state: string; port: number; registrations: string[]; rateLimits?: "relaxed" | "default" }):
  Promise<SynapseServer> {
  const dir = synapseDir();
  const server: SynapseServer = { dir, state: opts.state, port: opts.port, url: `http://127.0.0.1:${opts.port}` };
  useCachedVenv(dir, opts.state);
  try {
    await run(path.join(dir, "start.sh"), [opts.state, String(opts.port), ...opts.registrations],
      opts.rateLimits === "default" ? { SYNAPSE_RATE_LIMITS: "default" } : {});
  } catch (error) {
    // start.sh prints the log's tail when Synapse does not answer in time; other failures (apt, pip) do not.
    const message = (error as Error).message;
    const tail = logTail(server);
    const lastLine = tail.trim().split("\n").at(-1) ?? "";
    const shown = lastLine !== "" && message.includes(lastLine) ? "" : `\n--- end of homeserver.log ---\n${tail}`;
    throw new Error(`Synapse did not come up on ${server.url}: ${message}${shown}`);
  }
  cacheVenv(dir, opts.state);
  return server;
}

export async function stopSynapse(server: Pick<SynapseServer, "state">): Promise<void> {
  await run(path.join(synapseDir(), "stop.sh"), [server.state], {}, 30_000);
}

/** For process exit hooks, where nothing asynchronous runs any more. */
export function stopSynapseNow(state: string): void {
  spawnSync(path.join(synapseDir(), "stop.sh"), [state], { stdio: "ignore", timeout: 15_000 });
}

/** Stops every Synapse whose STATE is a directory of `root` (the run's first and second start). */
export function stopAllUnder(root: string): void {
  if (!existsSync(root)) return;
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    const state = path.join(root, entry.name);
    if (entry.isDirectory() && existsSync(path.join(state, "synapse.pid"))) stopSynapseNow(state);
  }
}

/**
 * However this process ends (normally, Ctrl-C, a signal, a crash), every Synapse under `root` is stopped and `root`
 * removed (unless SYNAPSE_KEEP_STATE=1).
 */
export function stopOnExit(root: string): void {
  const cleanUp = (): void => {
    stopAllUnder(root);
    if (process.env["SYNAPSE_KEEP_STATE"] !== "1") rmSync(root, { recursive: true, force: true });
  };
  process.once("exit", cleanUp);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      cleanUp();
      process.exit(130);
    });
  }
}

/** Creates the user (shared-secret registration) unless it exists, and returns a fresh access token (a new device). */
export async function registerUser(server: SynapseServer, user: string, password: string, opts: { admin?: boolean } = {}): Promise<string> {
  const { stdout } = await run(path.join(server.dir, "register.sh"),
    [server.state, String(server.port), user, password, ...(opts.admin === true ? ["--admin"] : [])], {}, 60_000);
  const token = stdout.trim().split("\n").at(-1) ?? "";
  if (token === "") throw new Error(`register.sh printed no token for ${user}`);
  return token;
}

/**
 * Several users at once. register.sh's first step (GET register/available) is rate-limited per client address, one
 * request at a time: the starts are staggered and a call refused so is tried again (register.sh is idempotent);
 * the slow part (register_new_matrix_user) overlaps.
 */
export async function registerUsers<N extends string>(server: SynapseServer,
  users: Array<{ name: N; password: string; admin?: boolean }>): Promise<Record<N, string>> {
  const tokens = await Promise.all(users.map(async (u, i) => {
    await new Promise((r) => setTimeout(r, i * 1500));
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await registerUser(server, u.name, u.password, { admin: u.admin === true });
      } catch (error) {
        if (attempt >= 4) throw error;
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  }));
  return Object.fromEntries(users.map((u, i) => [u.name, tokens[i] ?? ""])) as Record<N, string>;
}

