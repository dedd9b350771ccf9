// MATRIX_E2EE=true on a process that would have to wait as a standby (another instance holds the store lease) is
// refused at start like a configuration problem: the same report as loadConfig's (variable, problem, fix), which
// src/main.ts prints on stderr before it exits with code 2. Without MATRIX_E2EE the same process waits. Against the
// real PostgreSQL and Redis servers (SQLite has no lease).
import pino from "pino";
import { holdStoreLease } from "../../../src/app/standby";
import { ConfigRefusedError, loadConfig } from "../../../src/config";
import { openLeaseStore, type LeaseStore } from "../../../src/lease";
import { Metrics } from "../../../src/metrics";
import { parseStoreUrl } from "../../../src/store";
import { describeEachBackend, freshStore, type TestStore } from "../../support/backends";
import { STANDBY_LINE } from "../../support/standby";
import { waitFor } from "../../support/wait";
import { clientEnv, expectOk, lineAbout, NO_FILES } from "../config/config-helpers";

const log = pino({ level: "silent" });
const OTHER = JSON.stringify({ id: "other-1", host: "other-host", pid: 4242, instance: "/srv/other" });

describeEachBackend("MATRIX_E2EE on a process that would wait as a standby", (backend) => {
  let store: TestStore;
  let other: LeaseStore;
  beforeEach(async () => {
    store = await freshStore(backend);
    const opened = openLeaseStore(parseStoreUrl(store.url), 5000, () => undefined);
    if (!opened) throw new Error("no lease store");
    other = opened;
    expect(await other.acquire(OTHER, 60_000)).toBe(1); // another instance is active
  });
  afterEach(async () => {
    await other.close();
    await store.drop();
  });
  const config = (e2ee: boolean) => expectOk(loadConfig({ ...clientEnv, STORE_URL: store.url, DATA_DIR: "/tmp/sizing-e2ee-standby",
    ...(e2ee ? { MATRIX_E2EE: "true", CRYPTO_PASSPHRASE: "p" } : {}) }, NO_FILES));

  it("is refused with a configuration report naming MATRIX_E2EE, the other instance and the fix", async () => {
    const metrics = new Metrics({ processMetrics: false });
    const refused = await holdStoreLease({ config: config(true), log, stopping: () => false, onLost: () => undefined, metrics })
      .then(() => undefined, (e: unknown) => e);
    expect(refused).toBeInstanceOf(ConfigRefusedError);
    const report = (refused as ConfigRefusedError).report;
    expect(report.split("\n")[0]).toBe("matrix-agent-bot cannot start: the configuration has 1 problem:");
    const line = lineAbout(report, "MATRIX_E2EE");
    expect(line).toMatch(/is true, and another instance \(other-host pid 4242\) holds the store lease/);
    expect(line).toMatch(/Fix: run one instance with MATRIX_E2EE .*or stop the other one first/);
    expect((refused as Error).message).toMatch(/^MATRIX_E2EE=true cannot run as a standby: /); // the log's "could not start"
  });

  it("without MATRIX_E2EE the process waits as a standby instead (until it is told to stop)", async () => {
    let stopping = false;
    const lines: string[] = [];
    const metrics = new Metrics({ processMetrics: false });
    const waiting = holdStoreLease({ config: config(false), log: pino({ level: "info" }, { write: (line: string) => lines.push(line) }),
      stopping: () => stopping, onLost: () => undefined, metrics });
    await waitFor(() => lines.some((l) => l.includes(STANDBY_LINE)), { what: "the standby line" });
    expect(await metrics.text()).toMatch(/^matrix_agent_bot_lease_active 0$/m);
    stopping = true;
    await expect(waiting).resolves.toBeUndefined();
  });
}, ["postgres", "redis"]);
