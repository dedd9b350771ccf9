// A throw-away copy of a deployment, where tests run what an operator runs (`npm start`, `npm run …`, the runbook's
// commands) without touching the project root, whose .env and data/ are the user's: package.json, .env.example and
// scripts/ copied; dist/, src/, node_modules/ and the rest linked. `npm test` has built dist/ before jest runs, so
// the copy's build step is a stub (rebuilding the shared dist/ while other tests run from it would race).
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ROOT } from "./bot-harness";
import { killGroup, spawnGroup } from "./child-processes";

export const BUILD_STUB = `// dist/ is built by \`npm test\` before jest runs
export function needsBuild() { return false; }
export function buildIfNeeded() { return false; }
`;

/** A new deployment directory (remove it with removeDir). `dotEnv` becomes its .env when given. */
export function makeDeployment(opts: { dotEnv?: Record<string, string> } = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), "mab-deploy-"));
  for (const file of ["package.json", ".env.example"]) copyFileSync(path.join(ROOT, file), path.join(dir, file));
  for (const link of ["node_modules", "dist", "src", "packages", "tsconfig.json", "tsconfig.build.json"]) {
    symlinkSync(path.join(ROOT, link), path.join(dir, link));
  }
  mkdirSync(path.join(dir, "scripts"));
  for (const file of readdirSync(path.join(ROOT, "scripts"))) copyFileSync(path.join(ROOT, "scripts", file), path.join(dir, "scripts", file));
  writeFileSync(path.join(dir, "scripts", "build-if-needed.mjs"), BUILD_STUB);
  mkdirSync(path.join(dir, "home"));
  if (opts.dotEnv) writeFileSync(path.join(dir, ".env"), dotEnvText(opts.dotEnv));
  return dir;
}

export function dotEnvText(env: Record<string, string>): string {
  return Object.entries(env).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join("\n") + "\n";
}

/** The fixed environment of a command run in a deployment: PATH, a HOME of its own, npm kept quiet and offline. */
export function deploymentEnv(dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env["PATH"] ?? "",
    HOME: path.join(dir, "home"),
    npm_config_update_notifier: "false",
    npm_config_fund: "false",
    npm_config_audit: "false",
    NO_COLOR: "1",
    ...extra,
  };
}

export interface GroupRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command in its own process group to the end; past `timeoutMs` the group is killed and this rejects. */
export function runGroup(command: string, args: string[], opts: { cwd: string; env: Record<string, string>; timeoutMs: number;
  input?: string }): Promise<GroupRun> {
  return new Promise((resolve, reject) => {
    const child = spawnGroup(command, args, { cwd: opts.cwd, env: opts.env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      killGroup(child, "SIGKILL");
      reject(new Error(`${command} ${args.join(" ")} did not end within ${opts.timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin?.end(opts.input ?? "");
  });
}
