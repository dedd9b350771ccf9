// The standby (runbook/scale-out.md): with a PostgreSQL or Redis STORE_URL every bot process first takes the store
// lease (src/lease); a second process on the same store waits here, as a standby, until the active dies or stops,
// then goes on to start: agent session, outbox and journal recovery, inbound. So exactly one process processes and
// sends, and the standby opens no agent session before it is active. SQLite needs no lease: one file, one process
// (StoreHolder refuses a second one).
import * as path from "node:path";
import type { Logger } from "pino";
import { ConfigRefusedError, type Config } from "../config";
import { Lease, openLeaseStore } from "../lease";
import { childLogger } from "../log";
import type { Metrics } from "../metrics";
import { parseStoreUrl } from "../store";

export interface StandbyDeps {
  config: Config;
  log: Logger;
  /** The process is stopping: give up waiting. */
  stopping: () => boolean;
  /** The active lost the lease (it must stop at once). */
  onLost: (why: string) => void;
  /** Where the lease_* metrics go (standby and active alike). */
  metrics: Metrics;
}

/**
 * Resolves once this process holds the store lease (undefined: SQLite, no lease; or stopped while waiting). With
 * MATRIX_E2EE=true a process refuses to wait as a standby: its crypto store is on local disk (DATA_DIR), so it
 * could not carry on the active's device.
 */
export async function holdStoreLease(deps: StandbyDeps): Promise<Lease | undefined> {
  const { config } = deps;
  const log = childLogger(deps.log, "lease");
  const leaseMs = config.timings.leaseMs;
  const store = openLeaseStore(parseStoreUrl(config.storeUrl), Math.max(1000, Math.floor(leaseMs / 3)),
    (error) => log.warn({ err: error.message }, "store lease connection error"));
  if (!store) return undefined;
  let lease: Lease | undefined;
  const metrics = deps.metrics.watchLease({ status: () => lease?.status() ?? { active: false } });
  lease = new Lease({ store, leaseMs, instance: path.resolve(config.dataDir), log, onLost: deps.onLost,
    onRenewalFailed: (why) => metrics.renewalFailed(why) });
  let waited = false;
  const startedAt = Date.now();
  const pollMs = Math.min(1000, Math.max(50, Math.floor(leaseMs / 10)));
  try {
    const token = await lease.acquire(pollMs, deps.stopping, (holder, remainingMs) => {
      if (config.e2ee) {
        const other = holder ? `${holder.host} pid ${holder.pid}` : "unknown";
        const why = `another instance (${other}) holds the store lease, and this instance's crypto store is on its local disk ` +
          "(DATA_DIR), so it could not carry on that instance's encrypted sessions as its standby";
        throw new ConfigRefusedError([{ variable: "MATRIX_E2EE", problem: `is true, and ${why}`,
          fix: "run one instance with MATRIX_E2EE (stop this one: no standby with encryption), or stop the other one first " +
            "(runbook/scale-out.md)" }], `MATRIX_E2EE=true cannot run as a standby: ${why}`);
      }
      waited = true;
      log.info({ holder: holder ? { host: holder.host, pid: holder.pid } : undefined, expiresInMs: remainingMs },
        "standby: another instance holds the store lease; waiting to take over");
    });
    if (waited) metrics.tookOver();
    log.info({ fencingToken: token, waitedMs: Date.now() - startedAt, leaseMs }, "holding the store lease: this instance is active");
    return lease;
  } catch (error) {
    await lease.release();
    if (error instanceof ConfigRefusedError) throw error;
    if (deps.stopping()) return undefined;
    throw error;
  }
}
