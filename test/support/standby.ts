// Bot processes of a standby test (issue 30): child bots on one store, each with a DATA_DIR of its own unless told,
// stopped (and their extra data dirs removed) after the test.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { INBOX_NAME } from "../../src/inbox";
import { withPostgres, withRedis, type TestStore } from "./backends";
import { ChildBot, makeDataDir, removeDir } from "./bot-harness";

/** What a process waiting for the store lease logs, once. */
export const STANDBY_LINE = "standby: another instance holds the store lease; waiting to take over";
/** What a process logs when it holds the store lease. */
export const ACTIVE_LINE = "holding the store lease: this instance is active";

export class ChildBots {
  readonly all: ChildBot[] = [];
  private readonly dirs: string[] = [];
  private readonly dirOf = new Map<ChildBot, string>();

  /** A bot with `env`, in `dataDir` (default: a fresh one, removed at stop()). */
  start(env: Record<string, string>, dataDir?: string): ChildBot {
    const dir = dataDir ?? makeDataDir();
    if (dataDir === undefined) this.dirs.push(dir);
    const bot = new ChildBot({ ...env, DATA_DIR: dir });
    this.all.push(bot);
    this.dirOf.set(bot, dir);
    return bot;
  }

  dataDirOf(bot: ChildBot): string | undefined {
    return this.dirOf.get(bot);
  }

  /** Writes every bot's log lines (in start order, `bot` = its index) to a file in the temp dir; returns its path. */
  saveLogs(name: string): string {
    const file = path.join(os.tmpdir(), `${name}-${Date.now()}.jsonl`);
    fs.writeFileSync(file, this.all.flatMap((bot, index) => bot.logs.lines().map((line) => JSON.stringify({ bot: index, ...line }))).join("\n"));
    return file;
  }

  async stop(): Promise<void> {
    for (const bot of this.all.splice(0)) await bot.stop();
    for (const dir of this.dirs.splice(0)) removeDir(dir);
  }
}

/** How many appservice transactions a standby holds for the active on the shared server (src/inbox). */
export async function heldTransactionCount(store: Pick<TestStore, "backend" | "url">): Promise<number> {
  if (store.backend === "postgres") {
    return withPostgres(store.url, async (query) => {
      const [table] = await query("SELECT to_regclass('mab_appservice_inbox')::text AS t");
      if (table?.["t"] === null || table?.["t"] === undefined) return 0;
      return Number((await query("SELECT count(*)::int AS n FROM mab_appservice_inbox"))[0]?.["n"]);
    });
  }
  if (store.backend === "redis") return withRedis(store.url, (client) => client.xLen(`mab-inbox:${INBOX_NAME}`));
  return 0;
}
