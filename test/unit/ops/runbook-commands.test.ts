// Every ```sh block of runbook/*.md and README.md that is not marked `<!-- needs: … -->` (Docker, a real
// homeserver, the network, a database…) is run, in order, page by page, in a throw-away copy of a deployment:
// package.json, .env.example, dist/ and node_modules/ (linked), and a data/ directory with a real store.
// The log recipes (`npm start … | jq …`) are run as written against the test homeserver; the systemd unit is
// checked with systemd-analyze. Also: the pages the issue asks for exist, their relative links resolve, and
// operations.md lists every metric.
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { spawnSync } from "node:child_process";
import path from "node:path";
import pino from "pino";
import { TIMING_VARIABLES } from "../../../src/config";
import { METRIC_HELP, METRIC_PREFIX } from "../../../src/metrics";
import { openStore } from "../../../src/store";
import { removeDir, ROOT } from "../../support/bot-harness";
import { isAlive, killGroup, spawnGroup } from "../../support/child-processes";
import { deploymentEnv, makeDeployment, runGroup } from "../../support/deployment";
import { Scenario } from "../../support/scenario";

interface ShellBlock {
  file: string;
  line: number;
  code: string;
  /** The reasons of a `<!-- needs: … -->` marker right above the block. */
  needs?: string;
}

/** The ```sh (or bash/shell) blocks of a markdown text, with the marker above each, if any. */
function shellBlocks(markdown: string, file: string): ShellBlock[] {
  const lines = markdown.split("\n");
  const blocks: ShellBlock[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    if (!/^```(?:sh|bash|shell)\s*$/.test(lines[i] ?? "")) continue;
    const start = i;
    const body: string[] = [];
    for (i += 1; i < lines.length && !/^```\s*$/.test(lines[i] ?? ""); i += 1) body.push(lines[i] ?? "");
    let above = start - 1;
    while (above >= 0 && (lines[above] ?? "").trim() === "") above -= 1;
    const needs = /^<!--\s*needs:\s*(.+?)\s*-->$/.exec((lines[above] ?? "").trim())?.[1];
    blocks.push({ file, line: start + 1, code: body.join("\n"), ...(needs !== undefined ? { needs } : {}) });
  }
  return blocks;
}

const RUNBOOK = path.join(ROOT, "runbook");
const PAGES = [
  ...readdirSync(RUNBOOK).filter((f) => f.endsWith(".md")).sort().map((f) => path.join(RUNBOOK, f)),
  path.join(ROOT, "README.md"),
];
const REQUIRED_PAGES = ["quickstart", "appservice-synapse", "tls", "reverse-proxy", "backup-restore", "token-rotation",
  "upgrading", "store-migration", "operations"];

/** A copy of a deployment directory, with a data/ directory holding a real store. */
async function makeRunbookDeployment(): Promise<string> {
  const dir = makeDeployment();
  const store = await openStore(`sqlite://${path.join(dir, "data", "bot.sqlite")}`, { logger: pino({ level: "silent" }) });
  await store.namespace<string>("sync").set("next_batch", "s1_2_3");
  await store.close();
  return dir;
}

function runShell(code: string, cwd: string, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawnGroup("sh", ["-e", "-c", code], { cwd, env: deploymentEnv(cwd), stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout?.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr?.on("data", (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => {
      killGroup(child, "SIGKILL");
      reject(new Error(`timed out after ${timeoutMs} ms:\n${code}\n---\n${output}`));
    }, timeoutMs);
    child.on("error", reject);
    child.on("close", (exitCode) => {
      clearTimeout(timer);
      resolve({ code: exitCode, output });
    });
  });
}

describe.each(PAGES.map((p) => [path.relative(ROOT, p), p] as const))("shell commands in %s", (_name, page) => {
  const blocks = shellBlocks(readFileSync(page, "utf8"), path.relative(ROOT, page));
  const runnable = blocks.filter((b) => b.needs === undefined);
  let deployment = "";
  beforeAll(async () => {
    if (runnable.length > 0) deployment = await makeRunbookDeployment();
  });
  afterAll(() => {
    if (deployment !== "") removeDir(deployment);
  });

  it("marks every block it does not run with what it needs", () => {
    for (const block of blocks.filter((b) => b.needs !== undefined)) expect(block.needs).toMatch(/^[a-z0-9][a-z0-9 ,-]*$/);
  });

  if (runnable.length > 0) {
    it.each(runnable.map((b) => [`line ${b.line}`, b] as const))("runs the block at %s", async (_where, block) => {
      const result = await runShell(block.code, deployment, 90_000);
      if (result.code !== 0) throw new Error(`${block.file}:${block.line} exited ${String(result.code)}:\n${block.code}\n---\n${result.output}`);
    }, 120_000);
  }
});

describe("the runbook", () => {
  it.each(REQUIRED_PAGES)("has %s.md", (name) => {
    expect(existsSync(path.join(RUNBOOK, `${name}.md`))).toBe(true);
  });

  it.each(PAGES.map((p) => [path.relative(ROOT, p), p] as const))("%s links only to files that exist", (_name, page) => {
    const text = readFileSync(page, "utf8");
    const targets = [...text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)].map((m) => m[1] ?? "").filter((t) => !/^[a-z]+:/.test(t));
    const missing = targets.filter((t) => !existsSync(path.resolve(path.dirname(page), t)));
    expect(missing).toEqual([]);
  });

  it("operations.md describes every metric the bot exports", () => {
    const text = readFileSync(path.join(RUNBOOK, "operations.md"), "utf8");
    const missing = Object.keys(METRIC_HELP).map((k) => METRIC_PREFIX + k).filter((name) => !text.includes(`\`${name}`));
    expect(missing).toEqual([]);
  });
});

const LOG_RECIPES = PAGES.flatMap((page) => shellBlocks(readFileSync(page, "utf8"), path.relative(ROOT, page)))
  .filter((b) => /^npm start\b[^|\n]*\|\s*jq\b/.test(b.code.trim()));

describe("log recipes, run as written against the test homeserver", () => {
  let s: Scenario | undefined;
  let dir = "";
  afterEach(async () => {
    await s?.stop();
    s = undefined;
    removeDir(dir);
  });

  it("the runbook has some, and none pipes npm's banner into jq", () => {
    expect(LOG_RECIPES.length).toBeGreaterThanOrEqual(2);
    for (const recipe of LOG_RECIPES) expect(recipe.code).toMatch(/^npm start --silent \|/);
  });

  it.each(LOG_RECIPES.map((b) => [`${b.file}:${b.line}`, b] as const))("%s shows the bot's fatal line, and ends with the bot", async (_where, recipe) => {
    s = await Scenario.start({ mode: "client" });
    await s.stopBot();
    dir = makeDeployment({ dotEnv: { ...s.botEnv, MATRIX_ACCESS_TOKEN: "syt_revoked_token" } });
    const run = await runGroup("sh", ["-e", "-c", recipe.code], { cwd: dir, env: deploymentEnv(dir), timeoutMs: 60_000 });
    expect(run.stderr).toBe("");
    const lines = run.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toContainEqual(expect.objectContaining({ msg: "could not start" }));
    expect(run.code).toBe(0);
  }, 120_000);

  const handledRecipes = LOG_RECIPES.filter((b) => b.code.includes("message handled"));
  it.each(handledRecipes.map((b) => [`${b.file}:${b.line}`, b] as const))("%s shows a handled message of a running bot; Ctrl-C ends it all", async (_where, recipe) => {
    s = await Scenario.start({ mode: "client" });
    const dm = await s.openDm();
    await s.stopBot();
    dir = makeDeployment({ dotEnv: s.botEnv });
    const before = s.hs.requests.length;
    // In a terminal, as an operator types it: `script` gives the pipeline a pseudo-terminal (jq writes lines as
    // they come), and a Ctrl-C typed there signals the whole pipeline, as a terminal does.
    const terminal = spawnGroup("script", ["-q", "-e", "-c", recipe.code, "/dev/null"], { cwd: dir, env: deploymentEnv(dir, { TERM: "dumb" }),
      stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    terminal.stdout?.on("data", (c: Buffer) => (out += c.toString()));
    const ended = new Promise<number | null>((resolve) => terminal.on("close", resolve));
    const sessionPids = (): number[] => pidsOfSession(terminal.pid ?? 0);
    try {
      await s.hs.waitFor(() => s?.hs.requests.slice(before).some((r) => r.path.endsWith("/sync") && r.query["timeout"]?.[0] !== "0"),
        { what: "the bot running (long-polling)", timeoutMs: 60_000 });
      const inTerminal = sessionPids();
      expect(inTerminal.length).toBeGreaterThanOrEqual(3); // sh, npm → the bot, jq
      await s.alice.sendText(dm, "hello from the recipe test");
      await s.hs.waitFor(() => out.includes("message handled"), { what: "the handled line through jq", timeoutMs: 30_000 });
      const line = (out.split(/\r?\n/).find((l) => l.includes("message handled")) ?? "{}").replace(/\x1b\[[0-9;]*m/g, ""); // jq colours a terminal
      expect(JSON.parse(line)).toMatchObject({ msg: "message handled", roomId: dm, outcome: "ok", ms: expect.any(Number) });
      terminal.stdin?.write("\x03"); // Ctrl-C
      await ended;
      await s.hs.waitFor(() => inTerminal.every((pid) => !isAlive(pid)), { what: "no process of the pipeline left", timeoutMs: 30_000 });
    } finally {
      terminal.stdin?.destroy();
      killGroup(terminal, "SIGKILL");
      for (const pid of sessionPids()) process.kill(pid, "SIGKILL");
    }
  }, 120_000);
});

/** The processes of the terminal session `script` (pid `scriptPid`) opened: its child's session. */
function pidsOfSession(scriptPid: number): number[] {
  const stats = readdirSync("/proc").filter((d) => /^\d+$/.test(d)).flatMap((d) => {
    try {
      const text = readFileSync(`/proc/${d}/stat`, "utf8");
      const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
      return [{ pid: Number(d), ppid: Number(fields[1]), session: Number(fields[3]) }];
    } catch {
      return [];
    }
  });
  const sessions = new Set(stats.filter((p) => p.ppid === scriptPid).map((p) => p.pid));
  return stats.filter((p) => sessions.has(p.session)).map((p) => p.pid);
}

describe("the systemd unit in operations.md", () => {
  const unit = /```ini\n([\s\S]*?)```/.exec(readFileSync(path.join(RUNBOOK, "operations.md"), "utf8"))?.[1] ?? "";

  it("runs the built bot directly (not npm), stops it within its grace period, and does not restart a configuration problem", () => {
    expect(unit).toMatch(/^ExecStart=\/\S+\/node dist\/src\/main\.js$/m);
    expect(unit).toMatch(/^WorkingDirectory=\//m);
    const stopSec = Number(/^TimeoutStopSec=(\d+)$/m.exec(unit)?.[1]);
    const graceMs = TIMING_VARIABLES.find((t) => t.name === "SHUTDOWN_GRACE_MS")?.defaultValue ?? Infinity;
    expect(stopSec * 1000).toBeGreaterThan(graceMs);
    expect(unit).toMatch(/^RestartPreventExitStatus=2$/m); // main.ts: 2 is a configuration problem
    expect(unit).toMatch(/^Restart=on-failure$/m);
  });

  it("is a unit systemd accepts (systemd-analyze verify, with this machine's node)", () => {
    const unitDir = mkdtempSync(path.join(tmpdir(), "mab-unit-"));
    try {
      const file = path.join(unitDir, "matrix-agent-bot.service");
      writeFileSync(file, unit.replace(/^ExecStart=\S+/m, `ExecStart=${process.execPath}`));
      const verify = spawnSync("systemd-analyze", ["verify", file], { encoding: "utf8" });
      if (verify.error) throw new Error(`systemd-analyze is needed to check the unit (apt-get install systemd): ${verify.error.message}`);
      expect({ status: verify.status, stderr: verify.stderr.trim() }).toEqual({ status: 0, stderr: "" });
    } finally {
      removeDir(unitDir);
    }
  });
});
