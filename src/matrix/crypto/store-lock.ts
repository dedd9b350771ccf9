// One process per crypto store: two processes sharing one Olm account would both consume one-time keys and
// ratchet the same sessions, and the later snapshot would silently overwrite the earlier one's keys.
// The lock is a file created exclusively (O_EXCL) holding the owner's pid. A lock whose pid no longer runs
// (the previous process was SIGKILLed) is stale and taken over. Limit: a pid reused by an unrelated process
// keeps the lock held; the error names the file to delete.
import { promises as fs } from "node:fs";
import { processAlive } from "../../util/process-alive";

export class StoreLockedError extends Error {
  constructor(readonly lockFile: string, readonly ownerPid: number) {
    super(`crypto store is locked by process ${ownerPid} (${lockFile}); stop that process, or delete the file if it is not running`);
    this.name = "StoreLockedError";
  }
  readonly userText = "Another bot process is using this encryption store.";
}

export interface StoreLock { readonly file: string; release(): Promise<void> }

export async function acquireStoreLock(file: string, isAlive: (pid: number) => boolean = processAlive): Promise<StoreLock> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await fs.open(file, "wx", 0o600);
      try { await handle.writeFile(`${process.pid}\n`); await handle.sync(); } finally { await handle.close(); }
      let released = false;
      return {
        file,
        release: async () => {
          if (released) return;
          released = true;
          const owner = Number.parseInt(await fs.readFile(file, "utf8").catch(() => ""), 10);
          if (owner === process.pid) await fs.rm(file, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const owner = Number.parseInt(await fs.readFile(file, "utf8").catch(() => ""), 10);
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
      throw new StoreLockedError(file, owner);
    }
    if (owner === process.pid) throw new StoreLockedError(file, owner); // opened twice in this process
    await fs.rm(file, { force: true }); // stale (owner gone) or unreadable: take it over
  }
  throw new Error(`could not acquire the crypto store lock ${file}`);
}
