// Shared by the operator commands (register, login, store-copy, doctor): output, the command line, argument
// errors, .env, and an atomic private file write. Each command's entry file is the only place that touches `process`.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";

/** Where a command writes: `out` for results, `err` for problems. Lines get their newline added. */
export interface CliIo {
  out(line?: string): void;
  err(line?: string): void;
}

/** A problem with the command line: printed with the usage text, exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** A failure the operator can act on: printed as is (no stack), exit code 1. */
export class CliFailure extends Error {
  override readonly name = "CliFailure";
}

/** Our UsageError, or node:util parseArgs rejecting an option. */
export function isUsageError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return error instanceof UsageError || (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS"));
}

/** Writes lines to the process's stdout and stderr (used by the commands' entry points only). */
export function processIo(stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): CliIo {
  return {
    out: (line = "") => void stdout.write(`${line}\n`),
    err: (line = "") => void stderr.write(`${line}\n`),
  };
}

type CommandOptions = NonNullable<ParseArgsConfig["options"]>;
type CommandValues<T extends CommandOptions> =
  ReturnType<typeof parseArgs<{ args: string[]; strict: true; allowPositionals: false; options: T }>>["values"];

/**
 * Parses a command's options strictly (no positionals), adding --help. Returns undefined when --help was given,
 * after printing `usage`. An unknown or malformed option throws (isUsageError is true for it).
 */
export function parseCommandLine<T extends CommandOptions>(argv: string[], options: T, usage: string,
  io: CliIo): CommandValues<T> | undefined {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: { ...options, help: { type: "boolean", default: false } },
  });
  if ((values as { help?: unknown }).help === true) {
    io.out(usage);
    return undefined;
  }
  return values as CommandValues<T>;
}

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export { loadDotEnv } from "../config/dotenv";

/**
 * Writes `data` to `file` so that readers see the old file or the new one, never a half-written one: a temp
 * file in the same directory created with `mode`, fsync'd, then renamed over the target.
 */
export function writeFileAtomic(file: string, data: string, mode = 0o600): void {
  const dir = path.dirname(file);
  const temp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString("hex")}.tmp`);
  const fd = fs.openSync(temp, "wx", mode);
  try {
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.chmodSync(temp, mode); // the umask may have narrowed or the platform ignored `mode`
    fs.renameSync(temp, file);
  } catch (error) {
    fs.rmSync(temp, { force: true });
    throw error;
  }
}

/** The text of an error, first line only (never a stack). */
export function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0] ?? "";
}
