// Every ```sh block of runbook/*.md and README.md that is not marked `<!-- needs: … -->` (Docker, a real
// homeserver, the network, a database…) is run, in order, page by page, in a throw-away copy of a deployment:
// package.json, .env.example, dist/ and node_modules/ (linked), and a data/ directory with a real store.
// Also: the pages the issue asks for exist, their relative links resolve, and operations.md lists every metric.
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pino from "pino";
import { METRIC_HELP, METRIC_PREFIX } from "../../../src/metrics";
import { openStore } from "../../../src/store";
import { removeDir, ROOT } from "../../support/bot-harness";
import { scaled } from "../../support/wait";

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

/** A copy of a deployment directory: what the commands of the runbook expect to find. */
async function makeDeployment(): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), "mab-runbook-"));
  for (const file of ["package.json", ".env.example"]) copyFileSync(path.join(ROOT, file), path.join(dir, file));
  for (const link of ["node_modules", "dist", "src", "packages", "tsconfig.json", "tsconfig.build.json"]) {
    symlinkSync(path.join(ROOT, link), path.join(dir, link));
  }
  // `npm run …` first calls scripts/build-if-needed.mjs; `npm test` has just built dist/, so here it does nothing
  // (rebuilding the shared dist/ while other tests run from it would race).
  mkdirSync(path.join(dir, "scripts"));
  writeFileSync(path.join(dir, "scripts", "build-if-needed.mjs"), "// dist/ is built by `npm test` before jest runs\n");
  mkdirSync(path.join(dir, "home"));
  const store = await openStore(`sqlite://${path.join(dir, "data", "bot.sqlite")}`, { logger: pino({ level: "silent" }) });
  await store.namespace<string>("sync").set("next_batch", "s1_2_3");
  await store.close();
  return dir;
}

function runShell(code: string, cwd: string, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("sh", ["-e", "-c", code], {
      cwd,
      env: {
        PATH: process.env["PATH"] ?? "",
        HOME: path.join(cwd, "home"),
        npm_config_update_notifier: "false",
        npm_config_fund: "false",
        npm_config_audit: "false",
        NO_COLOR: "1",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
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
    if (runnable.length > 0) deployment = await makeDeployment();
  });
  afterAll(() => {
    if (deployment !== "") removeDir(deployment);
  });

  it("marks every block it does not run with what it needs", () => {
    for (const block of blocks.filter((b) => b.needs !== undefined)) expect(block.needs).toMatch(/^[a-z0-9][a-z0-9 ,-]*$/);
  });

  if (runnable.length > 0) {
    it.each(runnable.map((b) => [`line ${b.line}`, b] as const))("runs the block at %s", async (_where, block) => {
      const result = await runShell(block.code, deployment, scaled(90_000));
      if (result.code !== 0) throw new Error(`${block.file}:${block.line} exited ${String(result.code)}:\n${block.code}\n---\n${result.output}`);
    }, scaled(120_000));
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
