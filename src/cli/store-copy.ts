// `node dist/src/cli/store-copy.js --from <STORE_URL> --to <STORE_URL>`: copies every record of one store into
// another (e.g. sqlite → postgres or redis), values as stored (keyv's serialized form, expiry included). Run it
// with the bot stopped. Refuses a target that already holds records unless --force. Prints counts, never a
// password. Exit codes: 0 copied, 1 failed, 2 usage.
import * as fs from "node:fs";
import type { KeyvStoreAdapter } from "keyv";
import pino from "pino";
import { createAdapter } from "../store/adapters";
import { HOLDER_TTL_MS, readStoreHolder } from "../store/holder";
import { parseStoreUrl, redactStoreUrl, type ParsedStoreUrl } from "../store/store-url";
import { CliFailure, EXIT, firstLine, isUsageError, parseCommandLine, processIo, UsageError, type CliIo } from "./cli-support";
import { PRIVATE_UMASK } from "../util/private-files";

export const STORE_COPY_USAGE = `Usage: node dist/src/cli/store-copy.js --from <STORE_URL> --to <STORE_URL> [--force]

Copies every record of the bot's store into another store, e.g.
  --from sqlite://data/bot.sqlite --to postgres://bot:secret@db.example.org/bot
Stop the bot first: a store a running bot holds is refused (as source or target).

  --force   copy even when the target already holds records (records with the same key are replaced)
  --help    show this text`;

interface SqliteQuery {
  query(sql: string): Promise<Array<{ key: string; value: string }>>;
}

/** Every [key, stored value] of a store. sqlite reads its table in one query. */
async function* entriesOf(adapter: KeyvStoreAdapter, parsed: ParsedStoreUrl): AsyncGenerator<[string, unknown]> {
  if (parsed.backend === "sqlite") {
    const rows = await (adapter as unknown as SqliteQuery).query("SELECT key, value FROM keyv ORDER BY key");
    for (const row of rows) yield [row.key, row.value];
    return;
  }
  if (!adapter.iterator) throw new CliFailure(`the ${parsed.backend} adapter cannot list its records`);
  for await (const [key, value] of adapter.iterator(undefined)) {
    if (typeof key === "string") yield [key, value];
  }
}

async function isEmpty(adapter: KeyvStoreAdapter, parsed: ParsedStoreUrl): Promise<boolean> {
  for await (const entry of entriesOf(adapter, parsed)) {
    void entry;
    return false;
  }
  return true;
}

export async function runStoreCopy(argv: string[], io: CliIo, cwd: string): Promise<number> {
  const opened: KeyvStoreAdapter[] = [];
  try {
    const values = parseCommandLine(argv, {
      from: { type: "string" },
      to: { type: "string" },
      force: { type: "boolean", default: false },
    }, STORE_COPY_USAGE, io);
    if (values === undefined) return EXIT.ok;
    if (values.from === undefined || values.to === undefined) throw new UsageError("--from and --to are both required");
    const from = parseStoreUrl(values.from, cwd);
    const to = parseStoreUrl(values.to, cwd);
    if (from.url === to.url) throw new UsageError("--from and --to name the same store");
    if (from.backend === "sqlite" && from.file !== ":memory:" && !fs.existsSync(from.file)) {
      throw new CliFailure(`there is no sqlite store at ${from.file}: check --from (the bot's STORE_URL, or sqlite://<DATA_DIR>/bot.sqlite)`);
    }
    const options = { logger: pino({ level: "silent" }), sqliteBusyTimeoutMs: 5000 };
    const source = await createAdapter(from, options);
    opened.push(source);
    const target = await createAdapter(to, options);
    opened.push(target);
    for (const [adapter, url] of [[source, values.from], [target, values.to]] as const) {
      const holder = await readStoreHolder(adapter);
      if (holder) {
        throw new CliFailure(`a bot is using ${redactStoreUrl(url)} (pid ${holder.pid} on ${holder.host}, since ${holder.since}): stop it first `
          + `(a bot that was killed lets go of the store within ${HOLDER_TTL_MS / 1000} s)`);
      }
    }
    if (!values.force && !(await isEmpty(target, to))) {
      throw new CliFailure(`${redactStoreUrl(values.to)} already holds records; copy into an empty store, or add --force to merge into it`);
    }
    let copied = 0;
    for await (const [key, value] of entriesOf(source, from)) {
      // The target learns each entry's expiry too (sqlite's sweep, redis's own expiry), not only keyv on reads.
      await target.set(key, value, remainingTtl(value));
      copied += 1;
    }
    io.out(`Copied ${copied} record${copied === 1 ? "" : "s"} from ${redactStoreUrl(values.from)} to ${redactStoreUrl(values.to)}.`);
    io.out(`Next: set STORE_URL to the new store (in .env), run npm run doctor, then start the bot.`);
    return EXIT.ok;
  } catch (error) {
    if (isUsageError(error)) {
      io.err(`store-copy: ${firstLine(error)}`);
      io.err("");
      io.err(STORE_COPY_USAGE);
      return EXIT.usage;
    }
    io.err(`store-copy: ${error instanceof CliFailure ? error.message : firstLine(error)}`);
    return EXIT.failed;
  } finally {
    for (const adapter of opened) await adapter.disconnect?.().catch(() => undefined);
  }
}

/** Milliseconds until a stored value (keyv's serialized `{"value":…,"expires":n}`) expires; undefined: never or unknown. */
function remainingTtl(stored: unknown): number | undefined {
  if (typeof stored !== "string") return undefined;
  try {
    const expires = (JSON.parse(stored) as { expires?: unknown } | null)?.expires;
    return typeof expires === "number" && Number.isFinite(expires) ? Math.max(1, expires - Date.now()) : undefined;
  } catch {
    return undefined;
  }
}

if (require.main === module) {
  process.umask(PRIVATE_UMASK); // files it writes (credentials, registration, store copies) are its user's only
  void runStoreCopy(process.argv.slice(2), processIo(process.stdout, process.stderr), process.cwd()).then((code) => {
    process.exitCode = code;
  });
}
