// `npm run crypto` (dist/src/cli/crypto.js) as a child process, answers on stdin as an operator pipes them.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ROOT } from "./bot-harness";
import { spawnGroup } from "./child-processes";

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export const CRYPTO_JS = path.join(ROOT, "dist", "src", "cli", "crypto.js");

/** Runs the command to its end (asynchronously: the homeserver double answers from this process). */
export function runCryptoCli(args: string[], env: Record<string, string>, stdin = ""): Promise<CliRun> {
  const cwd = mkdtempSync(path.join(tmpdir(), "mab-crypto-cli-"));
  const child = spawnGroup(process.execPath, [CRYPTO_JS, ...args], { cwd, env: { PATH: process.env["PATH"] ?? "", ...env }, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
  child.stdin?.end(stdin);
  return new Promise((resolve) => child.on("exit", (code) => {
    rmSync(cwd, { recursive: true, force: true });
    resolve({ code, stdout, stderr });
  }));
}
