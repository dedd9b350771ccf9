// Runs the operator commands the way an operator does: as child processes from dist/ (run `npm run build`
// first; `npm test` does), with a clean environment and a temporary working directory.
import { existsSync } from "node:fs";
import path from "node:path";
import { ROOT } from "../../support/bot-harness";
import { runGroup } from "../../support/deployment";

export const CLI_DIR = path.join(ROOT, "dist", "src", "cli");

export type CliName = "register" | "login" | "doctor" | "store-copy" | "crypto";

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
export async function runCli(name: CliName, args: string[],
  opts: { cwd: string; env?: Record<string, string>; input?: string; timeoutMs?: number }): Promise<CliRun> {
  const run = await runGroup(process.execPath, [cliPath(name), ...args], { cwd: opts.cwd, env: { PATH: process.env["PATH"] ?? "", ...opts.env },
    timeoutMs: opts.timeoutMs ?? 20_000, ...(opts.input !== undefined ? { input: opts.input } : {}) });
  return { code: run.code, stdout: run.stdout, stderr: run.stderr };
}

/** Asserts no secret appears anywhere in a command's output. */
export function expectNoSecrets(run: CliRun, secrets: string[]): void {
  for (const secret of secrets.filter((s) => s !== "")) {
    expect(run.stdout).not.toContain(secret);
    expect(run.stderr).not.toContain(secret);
  }
}
