// Runs the operator commands the way an operator does: as child processes from dist/ (run `npm run build`
// first; `npm test` does), with a clean environment and a temporary working directory.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { ROOT } from "../../support/bot-harness";
import { scaled } from "../../support/wait";

export const CLI_DIR = path.join(ROOT, "dist", "src", "cli");

export type CliName = "register" | "login" | "doctor" | "store-copy";

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function cliPath(name: CliName): string {
  const file = path.join(CLI_DIR, `${name}.js`);
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` (npm test does it)`);
  return file;
}

/** Spawns (never blocks: the homeserver double runs in this process). `input` is written to stdin, then closed. */
export function runCli(name: CliName, args: string[],
  opts: { cwd: string; env?: Record<string, string>; input?: string; timeoutMs?: number }): Promise<CliRun> {
  const timeoutMs = scaled(opts.timeoutMs ?? 20_000);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath(name), ...args], {
      cwd: opts.cwd,
      env: { PATH: process.env["PATH"] ?? "", ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${name} did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? "");
  });
}

/** Asserts no secret appears anywhere in a command's output. */
export function expectNoSecrets(run: CliRun, secrets: string[]): void {
  for (const secret of secrets.filter((s) => s !== "")) {
    expect(run.stdout).not.toContain(secret);
    expect(run.stderr).not.toContain(secret);
  }
}
