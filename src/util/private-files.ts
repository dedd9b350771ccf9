// What the bot keeps on disk (message text in SQLite and its -wal/-shm, the agent's memory, crypto keys, tokens) is
// readable by its own user only: folders 0700, files 0600. The processes set umask 077 (main.ts and the CLIs); these
// helpers make the same modes explicit, so they hold whatever the umask of whoever starts the app in-process, and
// tighten what an earlier version left readable.
import * as fs from "node:fs";
import type { Logger } from "pino";

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;
/** For `process.umask`: new files 0600, new folders 0700. */
export const PRIVATE_UMASK = 0o077;

/** Creates the folder (and missing parents, 0700). With `tighten`, an existing one readable by others is made 0700. */
export function ensurePrivateDir(dir: string, opts: { tighten?: boolean } = {}): { tightened: boolean } {
  fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (opts.tighten !== true || (fs.statSync(dir).mode & 0o077) === 0) return { tightened: false };
  fs.chmodSync(dir, PRIVATE_DIR_MODE);
  return { tightened: true };
}

/** The file exists (created empty when missing) with mode 0600. */
export function ensurePrivateFile(file: string): void {
  fs.closeSync(fs.openSync(file, "a", PRIVATE_FILE_MODE));
  fs.chmodSync(file, PRIVATE_FILE_MODE);
}

/** Mode 0600 for each of the files that exists. */
export function tightenFiles(files: readonly string[]): void {
  for (const file of files) if (fs.existsSync(file)) fs.chmodSync(file, PRIVATE_FILE_MODE);
}

/** DATA_DIR at start: created 0700, or made 0700 when an earlier version left it readable by others. Never throws. */
export function keepPrivate(dataDir: string, log: Logger): void {
  try {
    if (ensurePrivateDir(dataDir, { tighten: true }).tightened) log.info({ dataDir }, "DATA_DIR was readable by other users; it is now 0700");
  } catch (e) {
    log.warn({ dataDir, err: e instanceof Error ? e.message : String(e) }, "could not make DATA_DIR private (0700); check its owner and mode");
  }
}
