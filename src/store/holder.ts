// Which bot holds the store: a running bot keeps one record, `store-holder:bot` (its pid, host and start), written
// with a ttl of HOLDER_TTL_MS and renewed every third of it, deleted when the bot stops. `npm run store-copy`
// refuses a store that has a live one (a copy taken while the bot writes would miss what comes after it). A bot
// that was killed leaves its record behind for at most HOLDER_TTL_MS.
import { hostname } from "node:os";
import type Keyv from "keyv";
import type { KeyvStoreAdapter } from "keyv";
import type { Logger } from "pino";
import { z } from "zod";
import { processAlive } from "../util/process-alive";

export const HOLDER_NAMESPACE = "store-holder";
const HOLDER_KEY = "bot";
export const HOLDER_TTL_MS = 30_000;

const HolderSchema = z.object({ pid: z.number(), host: z.string(), since: z.string() });
export type StoreHolderRecord = z.infer<typeof HolderSchema>;

/** A second process on a store that allows one. */
export class StoreHeldError extends Error {}

export class StoreHolder {
  private timer: NodeJS.Timeout | undefined;
  private readonly record: StoreHolderRecord = { pid: process.pid, host: hostname(), since: new Date().toISOString() };

  constructor(private readonly kv: Keyv<StoreHolderRecord>, private readonly log: Logger) {}

  /**
   * Writes the record, then renews it until stop(). A failed renewal is logged and tried again at the next one.
   * `exclusive` (SQLite: one file, one process): refuses, with StoreHeldError, a store whose live record names
   * another process of this host that is still running (a killed bot's record does not stop its restart).
   */
  async start(opts: { exclusive?: boolean; isAlive?: (pid: number) => boolean } = {}): Promise<this> {
    if (opts.exclusive === true) {
      const current = HolderSchema.safeParse(await this.kv.get(HOLDER_KEY));
      const other = current.success ? current.data : undefined;
      if (other && other.host === this.record.host && other.pid !== this.record.pid && (opts.isAlive ?? processAlive)(other.pid)) {
        throw new StoreHeldError(`another bot process (pid ${other.pid}, running since ${other.since}) already uses this SQLite store; ` +
          "two processes on one SQLite file would answer everything twice. Stop that one first, or run a standby on a PostgreSQL " +
          "or Redis STORE_URL (runbook/scale-out.md)");
      }
    }
    await this.kv.set(HOLDER_KEY, this.record, HOLDER_TTL_MS);
    this.timer = setInterval(() => {
      this.kv.set(HOLDER_KEY, this.record, HOLDER_TTL_MS).catch((error: unknown) =>
        this.log.warn({ err: error instanceof Error ? error.message : String(error) }, "could not renew the store holder record"));
    }, HOLDER_TTL_MS / 3);
    this.timer.unref();
    return this;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.kv.delete(HOLDER_KEY).catch(() => undefined); // otherwise it expires
  }
}

/** The live holder record of a store, read through its raw adapter (keyv's serialized `{value, expires}`). */
export async function readStoreHolder(adapter: KeyvStoreAdapter, now = Date.now()): Promise<StoreHolderRecord | undefined> {
  const raw: unknown = await adapter.get(`${HOLDER_NAMESPACE}:${HOLDER_KEY}`);
  if (typeof raw !== "string") return undefined;
  try {
    const stored = JSON.parse(raw) as { value?: unknown; expires?: unknown };
    if (typeof stored.expires === "number" && stored.expires <= now) return undefined;
    const parsed = HolderSchema.safeParse(stored.value);
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
