// The only file that touches `process`: reads the environment (and .env when present), starts the app,
// and turns signals into a graceful stop. Exit codes: 0 stopped, 1 failed, 2 configuration problem.
import { existsSync } from "node:fs";
import { createApp, type App } from "./app";
import { loadConfig } from "./config";
import { installCheckpointHook } from "./util/checkpoints";
import { PRIVATE_UMASK } from "./util/private-files";

function loadDotEnv(): void {
  if (existsSync(".env")) process.loadEnvFile(".env");
}

/** Test-only: MAB_TEST_CRASH_AT=<checkpoint> kills this process (SIGKILL) the first time it is reached. */
function installCrashPoint(): void {
  const target = process.env["MAB_TEST_CRASH_AT"];
  if (!target) return;
  installCheckpointHook((point) => {
    if (point === target) process.kill(process.pid, "SIGKILL");
  });
}

async function main(): Promise<void> {
  process.umask(PRIVATE_UMASK); // everything the bot writes (DATA_DIR: store, crypto, agent memory) is its user's only
  loadDotEnv();
  installCrashPoint();
  const loaded = loadConfig(process.env);
  if (!loaded.ok) {
    process.stderr.write(`${loaded.message}\n`);
    process.exit(2);
  }
  const app: App = createApp(loaded.config, { logPretty: process.stdout.isTTY === true });
  process.on("unhandledRejection", (reason) => {
    app.log.error({ err: reason instanceof Error ? reason.message : String(reason) }, "unhandledRejection (a bug: please report it)");
  });
  process.on("uncaughtException", (error) => {
    app.log.fatal({ err: error.message }, "uncaughtException (a bug: please report it); exiting");
    process.exit(1);
  });

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      app.log.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    app.log.info({ signal }, "stopping");
    app.stop().then(() => process.exit(0), (e: unknown) => {
      app.log.error({ err: String(e) }, "stop failed");
      process.exit(1);
    });
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);

  try {
    await app.start();
  } catch (e) {
    app.log.fatal({ err: e instanceof Error ? e.message : String(e) }, "could not start");
    await app.stop().catch(() => undefined);
    process.exit(1);
  }
}

void main();
