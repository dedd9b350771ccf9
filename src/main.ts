// The only file that touches `process`: reads the environment (and .env when present), starts the app,
// and turns signals into a graceful stop. Exit codes: 0 stopped on a signal, 1 failed (or stdout was closed),
// 2 configuration problem, 3 lost the store lease (runbook/scale-out.md).
import { createApp, type App } from "./app";
import { ConfigRefusedError, loadConfig, loadDotEnv } from "./config";
import { stdoutDestination } from "./log";
import { installCheckpointHook } from "./util/checkpoints";
import { applyGcSettings } from "./util/gc-settings";
import { PRIVATE_UMASK } from "./util/private-files";

/**
 * A repeat of the first signal within this time is the same request: a Ctrl-C reaches the bot from the terminal
 * and again forwarded by `npm start`. A signal after that exits at once.
 */
const SAME_REQUEST_MS = 1000;
const STOP_SIGNALS: NodeJS.Signals[] = ["SIGTERM", "SIGINT", "SIGHUP"];
const EXIT_LEASE_LOST = 3;

/**
 * Test-only: MAB_TEST_CRASH_AT=<checkpoint> kills this process (SIGKILL) the first time it is reached;
 * <checkpoint>#<n> the n-th time.
 */
function installCrashPoint(): void {
  const [target, nth] = (process.env["MAB_TEST_CRASH_AT"] ?? "").split("#");
  if (!target) return;
  let left = Math.max(1, Number(nth ?? "1") || 1);
  installCheckpointHook((point) => {
    if (point === target && --left === 0) process.kill(process.pid, "SIGKILL");
  });
}

/** Test-only: MAB_TEST_NOW=<ISO instant> starts the clock usage days are counted on there; it runs on from it. */
function testClock(): (() => number) | undefined {
  const start = Date.parse(process.env["MAB_TEST_NOW"] ?? "");
  if (Number.isNaN(start)) return undefined;
  const offset = start - Date.now();
  return () => Date.now() + offset;
}

async function main(): Promise<void> {
  process.umask(PRIVATE_UMASK); // everything the bot writes (DATA_DIR: store, crypto, agent memory) is its user's only
  loadDotEnv(process.cwd(), (file) => process.loadEnvFile(file));
  installCrashPoint();
  const loaded = loadConfig(process.env);
  if (!loaded.ok) {
    process.stderr.write(`${loaded.message}\n`);
    process.exit(2);
  }

  let stopping: Promise<void> | undefined;
  let firstSignal: { signal: NodeJS.Signals; at: number } | undefined;
  const stop = (why: Record<string, unknown>, exitCode: number): void => {
    if (stopping) return;
    app.log.info(why, "stopping");
    stopping = app.stop().then(() => process.exit(exitCode), (e: unknown) => {
      app.log.error({ err: String(e) }, "stop failed");
      process.exit(1);
    });
  };
  // A pipe on stdout (`npm start --silent | jq …`) whose reader went away: nobody sees the bot any more, so it stops.
  const logDestination = process.stdout.isTTY === true ? undefined : stdoutDestination(() => stop({ reason: "stdout closed" }, 1));
  const clock = testClock();
  const app: App = createApp(loaded.config, { logPretty: process.stdout.isTTY === true, ...(logDestination ? { logDestination } : {}),
    ...(clock ? { clock } : {}),
    // Another instance may be active now: no graceful stop (it would send), exit at once like a crash; the journal and
    // the outbox resume elsewhere. A supervisor restarting the bot brings it back as the standby.
    onLeaseLost: () => process.exit(EXIT_LEASE_LOST) });
  process.on("unhandledRejection", (reason) => {
    app.log.error({ err: reason instanceof Error ? reason.message : String(reason) }, "unhandledRejection (a bug: please report it)");
  });
  process.on("uncaughtException", (error) => {
    app.log.fatal({ err: error.message }, "uncaughtException (a bug: please report it); exiting");
    process.exit(1);
  });

  const onSignal = (signal: NodeJS.Signals): void => {
    const now = Date.now();
    if (firstSignal) {
      if (signal === firstSignal.signal && now - firstSignal.at < SAME_REQUEST_MS) return;
      app.log.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    firstSignal = { signal, at: now };
    stop({ signal }, 0);
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);

  try {
    await app.start();
  } catch (e) {
    app.log.fatal({ err: e instanceof Error ? e.message : String(e) }, "could not start");
    await app.stop().catch(() => undefined);
    if (e instanceof ConfigRefusedError) { // valid alone, refused here (e.g. MATRIX_E2EE where another instance is active)
      process.stderr.write(`${e.report}\n`);
      process.exit(2);
    }
    process.exit(1);
  }
  // Process-wide concerns: how V8's heap grows while a burst is worked, and giving it back once idle.
  applyGcSettings(process.execArgv, app.log);
}

void main();
