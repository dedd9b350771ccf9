// `npm start` as a newcomer and a supervisor meet it, in a throw-away deployment against the homeserver double:
// `npm run login` then `npm run doctor` and `npm start` with nothing else configured; the signals npm gets reach the
// bot, npm ends with it and exits with its code; a closed stdout pipe or a vanished npm stops the bot. Every check
// of "no process left" is made by pid.
import type { ChildProcess } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { removeDir } from "../support/bot-harness";
import { isAlive, killGroup, spawnGroup } from "../support/child-processes";
import { deploymentEnv, makeDeployment, runGroup } from "../support/deployment";
import { LogCapture } from "../support/log-capture";
import { Scenario } from "../support/scenario";
import { startHomeserver, type Homeserver } from "../support/homeserver";
import { scaled, waitFor } from "../support/wait";

/** `npm start` (with `args`) in `dir`, in a process group of its own; stdout parsed as log lines. */
class NpmStart {
  readonly logs = new LogCapture();
  stderr = "";
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(dir: string, env: Record<string, string> = {}, args: string[] = []) {
    this.child = spawnGroup("npm", ["start", ...args], { cwd: dir, env: deploymentEnv(dir, env), stdio: ["ignore", "pipe", "pipe"] });
    this.child.stdout?.on("data", (c: Buffer) => this.logs.append(c.toString()));
    this.child.stderr?.on("data", (c: Buffer) => (this.stderr += c.toString()));
    this.exited = new Promise((resolve) => this.child.on("exit", (code, signal) => resolve({ code, signal })));
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error("npm did not start");
    return this.child.pid;
  }

  async ready(): Promise<this> {
    await this.logs.waitFor((l) => l.msg === "ready", "the bot's ready line", 60_000).catch((e: unknown) => {
      throw new Error(`${String(e)}\n--- stderr ---\n${this.stderr}`);
    });
    return this;
  }

  /** The bot's process: npm's child running scripts/start.mjs (npm's shell exec'd it). */
  botPid(): number {
    const found = childrenOf(this.pid).find((pid) => cmdline(pid).includes("scripts/start.mjs"));
    if (found === undefined) throw new Error(`no bot process under npm (${this.pid}): ${childrenOf(this.pid).map(cmdline).join("; ")}`);
    return found;
  }

  stop(): void {
    killGroup(this.child, "SIGKILL");
  }
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const text = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim();
    if (text !== "") out.push(...text.split(/\s+/).map(Number));
  }
  return out;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return "";
  }
}

/** Waits (generously) until the process is gone; fails naming it otherwise. */
async function gone(pid: number, what: string): Promise<void> {
  await waitFor(() => !isAlive(pid), { what: `${what} (pid ${pid}) to exit`, timeoutMs: 30_000, intervalMs: 50 });
}

describe("npm start in a deployment", () => {
  let s: Scenario | undefined;
  let dir = "";
  let npm: NpmStart | undefined;
  let hs: Homeserver | undefined;
  afterEach(async () => {
    npm?.stop();
    npm = undefined;
    await s?.stop();
    s = undefined;
    await hs?.close();
    hs = undefined;
    removeDir(dir);
  });

  it("login, then doctor and npm start with nothing else configured: the homeserver comes from credentials.json", async () => {
    hs = await startHomeserver({ serverName: "localhost" });
    hs.addUser("newbot", { password: "correct horse" });
    dir = makeDeployment();
    // What a newcomer does: copy the example (every value empty), log in, check, start.
    const only = { HTTP_BIND: "127.0.0.1:0" }; // the one setting a shared test machine needs (8080 may be taken)
    const login = await runGroup("sh", ["-c", `cp .env.example .env && npm run --silent login -- --homeserver ${hs.url} --user newbot`],
      { cwd: dir, env: deploymentEnv(dir, only), timeoutMs: 60_000, input: "correct horse\n" });
    expect(login.stderr).toBe("");
    expect(login.code).toBe(0);
    const file = path.join(dir, "data", "credentials.json"); // DATA_DIR= (empty) in .env is unset: ./data
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, "utf8"))).toMatchObject({ homeserverUrl: hs.url, userId: "@newbot:localhost" });
    expect(login.stdout).toContain("MATRIX_HOMESERVER_URL may stay unset");

    const doctor = await runGroup("npm", ["run", "--silent", "doctor"], { cwd: dir, env: deploymentEnv(dir, only), timeoutMs: 60_000 });
    expect(doctor.stdout).toContain(`✓ configuration: client mode, token from credentials.json, homeserver ${hs.url}`);
    expect(doctor.stdout).toContain("✓ token: the token in credentials.json is valid: the bot is @newbot:localhost");
    expect(doctor.stdout).toContain("All checks passed.");
    expect(doctor.code).toBe(0);

    npm = await new NpmStart(dir, only).ready();
    expect(npm.logs.find((l) => l.msg === "signed in")).toMatchObject({ userId: "@newbot:localhost", homeserver: hs.url });
  }, scaled(180_000));

  /** A deployment whose .env points at the double with the bot's token (what `npm start` reads). */
  async function configured(): Promise<void> {
    s = await Scenario.start({ mode: "client" });
    await s.stopBot();
    dir = makeDeployment({ dotEnv: s.botEnv });
  }

  /** npm start, ready; `signal` sent to npm (`group`: to its whole process group, as a terminal does). */
  async function signalled(signal: NodeJS.Signals, group: boolean): Promise<void> {
    await configured();
    npm = await new NpmStart(dir).ready();
    const bot = npm.botPid();
    process.kill(group ? -npm.pid : npm.pid, signal);
    expect(await npm.exited).toEqual({ code: 0, signal: null });
    await gone(bot, "the bot");
    expect(npm.logs.lines().filter((l) => l.msg === "stopping")).toEqual([expect.objectContaining({ signal })]);
    expect(npm.logs.find((l) => l.msg === "stopped")).toBeDefined();
    expect(npm.logs.find((l) => l.msg === "second signal: exiting now")).toBeUndefined();
  }

  it("SIGTERM to npm: the bot stops gracefully, npm exits 0, and no process is left", async () => {
    await signalled("SIGTERM", false);
  }, scaled(120_000));

  it("Ctrl-C (SIGINT to the whole group, as a terminal sends it): one graceful stop, npm exits 0", async () => {
    await signalled("SIGINT", true); // the bot gets it from the "terminal" and again forwarded by npm: one request
  }, scaled(120_000));

  it("a closed stdout pipe (`npm start --silent | jq` and jq exits): the bot stops instead of running unseen", async () => {
    await configured();
    npm = await new NpmStart(dir, {}, ["--silent"]).ready();
    const bot = npm.botPid();
    npm.child.stdout?.destroy(); // the reader goes away
    // Something happens that the bot logs about (it accepts an invite): that write fails with EPIPE.
    await s!.alice.createRoom({ is_direct: true, invite: [s!.botUserId], preset: "trusted_private_chat" });
    await gone(bot, "the bot");
    expect((await npm.exited).code).toBe(1);
  }, scaled(120_000));

  it("npm killed outright (SIGKILL): the bot notices its parent is gone and stops", async () => {
    await configured();
    npm = await new NpmStart(dir).ready();
    const bot = npm.botPid();
    process.kill(npm.pid, "SIGKILL");
    await gone(bot, "the bot");
  }, scaled(120_000));
});
