// `npm run crypto -- setup`: cross-signs the bot's device (its own master, self-signing and user-signing keys,
// uploaded; the device signed), so people's clients show it "verified by its owner". The homeserver may ask for the
// account's password (user-interactive auth, Synapse before MSC3967): it is asked for once, only then, never echoed,
// printed or logged. Uses the bot's configuration (environment and .env) and its crypto store: stop the bot first
// (the store's lock says so otherwise). Exit codes: 0 done, 1 failed, 2 usage.
import pino from "pino";
import { loadConfig, type Env } from "../config";
import { createLogger } from "../log";
import { whoami } from "../app/matrix-helpers";
import { createMatrixHttp } from "../matrix/http";
import { startCrypto, StoreLockedError, type CryptoRuntime } from "../matrix/crypto";
import { PRIVATE_UMASK } from "../util/private-files";
import { CliFailure, EXIT, firstLine, isUsageError, loadDotEnv, parseCommandLine, processIo, UsageError, type CliIo } from "./cli-support";
import { restore } from "./crypto-restore";
import { createBackup, type BackupMachine } from "../matrix/crypto/key-backup";
import { pipedPrompter, PromptCancelled, terminalPrompter, type Prompter } from "./prompt";

export const CRYPTO_USAGE = `Usage: npm run crypto -- setup [--reset] | restore

Works on the bot's encryption device (MATRIX_E2EE=true), with the bot's configuration. Stop the bot first.

  setup     cross-signs the bot's device: makes its master, self-signing and user-signing keys, uploads them and
            signs the device, so clients show it as verified by its owner. The homeserver may ask for the bot
            account's password: it is asked for once and never shown. Then starts the server-side key backup
            and shows its backup key once: keep it, restore needs it.
  restore   client mode, after DATA_DIR/crypto was lost: asks for the backup key and the password, logs in a new
            device, cross-signs it, imports the backed-up room keys and deletes the old device.
  --reset   setup: make new cross-signing keys even if the device has some
  --help    show this text`;

export interface CryptoCommandContext {
  readonly env: Env;
  readonly prompter: Prompter;
  /** Where the crypto log goes (default stderr, warnings only). */
  readonly logDestination?: pino.DestinationStream;
}

export async function runCrypto(argv: string[], io: CliIo, context: CryptoCommandContext): Promise<number> {
  let runtime: CryptoRuntime | undefined;
  try {
    const [command, ...rest] = argv;
    if (command === "--help" || command === "-h") {
      io.out(CRYPTO_USAGE);
      return EXIT.ok;
    }
    if (command !== "setup" && command !== "restore") throw new UsageError(command === undefined ? "name a command: setup or restore" : `unknown command ${command}`);
    const values = parseCommandLine(rest, { reset: { type: "boolean", default: false } }, CRYPTO_USAGE, io);
    if (values === undefined) return EXIT.ok;
    const loaded = loadConfig(context.env);
    if (!loaded.ok) throw new CliFailure(loaded.message);
    const config = loaded.config;
    if (!config.e2ee) throw new CliFailure("encryption is off: set MATRIX_E2EE=true (and CRYPTO_PASSPHRASE) first");
    const accessToken = config.mode === "appservice" ? config.registration?.as_token ?? "" : config.accessToken ?? "";
    const log = createLogger({ level: "warn", secrets: [accessToken, config.cryptoPassphrase ?? ""].filter((s) => s !== ""),
      destination: context.logDestination ?? pino.destination(2) });
    if (command === "restore") return await restore(config, context.env, io, context.prompter, log);
    const http = createMatrixHttp({ homeserverUrl: config.homeserverUrl, accessToken, requestTimeoutMs: config.timings.requestTimeoutMs });
    const userId = await whoami(http);
    runtime = await startCrypto({ homeserverUrl: config.homeserverUrl, accessToken, dataDir: config.dataDir,
      passphrase: config.cryptoPassphrase ?? "", http, log, crossSignAtStart: false,
      ...(config.mode === "appservice" ? { appservice: { userId, deviceDisplayName: config.botDisplayName ?? "matrix-agent-bot" } } : {}) });
    return await setup(runtime, userId, values.reset, io, context.prompter);
  } catch (error) {
    return reportFailure(error, io);
  } finally {
    await runtime?.stop().catch(() => undefined);
    context.prompter.close();
  }
}

async function setup(runtime: CryptoRuntime, userId: string, reset: boolean, io: CliIo, prompter: Prompter): Promise<number> {
  const signed = await setupCrossSigning(runtime, userId, reset, io, prompter);
  if (runtime.backup.enabled) {
    io.out("Key backup: on; room keys are backed up as they arrive.");
  } else {
    const { version, backupKey } = await createBackup(runtime.trust.machine as BackupMachine, runtime.trust.http);
    await runtime.backup.start();
    await runtime.backup.idle();
    io.out(`Key backup: on (version ${version}). The backup key, shown this once: keep it somewhere safe (a password manager);`);
    io.out("`npm run crypto -- restore` needs it to bring back the bot's room keys if DATA_DIR/crypto is lost:");
    io.out(`    ${backupKey}`);
  }
  return signed;
}

async function setupCrossSigning(runtime: CryptoRuntime, userId: string, reset: boolean, io: CliIo, prompter: Prompter): Promise<number> {
  const device = `${userId} (device ${runtime.deviceId ?? "?"})`;
  if (!reset && (await runtime.trust.isCrossSigned())) {
    io.out(`Cross-signing: already set up for ${device}; --reset makes new keys.`);
    return EXIT.ok;
  }
  const outcome = await runtime.trust.crossSign(() => prompter.askSecret(`The homeserver asks for the password of ${userId}`));
  switch (outcome.status) {
    case "uploaded":
      io.out(`Cross-signing: set up for ${device}. Clients now show the device as verified by its owner.`);
      return EXIT.ok;
    case "needs-auth":
      io.err(`crypto: the homeserver asks for interactive auth this command cannot do (${outcome.flows.map((f) => f.join(" + ")).join(", ") || "no flow offered"}). ` +
        "An appservice user has no password: see runbook/encryption.md.");
      return EXIT.failed;
    case "unsupported":
      io.err(`crypto: ${outcome.detail}. Appservice users cannot upload cross-signing keys on this homeserver: see runbook/encryption.md.`);
      return EXIT.failed;
  }
}

function reportFailure(error: unknown, io: CliIo): number {
  if (isUsageError(error)) {
    io.err(`crypto: ${firstLine(error)}`);
    io.err("");
    io.err(CRYPTO_USAGE);
    return EXIT.usage;
  }
  if (error instanceof StoreLockedError) {
    io.err(`crypto: the bot is running (${error.message}). Stop it, then run this again.`);
    return EXIT.failed;
  }
  if (error instanceof PromptCancelled || error instanceof CliFailure) {
    io.err(`crypto: ${error.message}`);
    return EXIT.failed;
  }
  io.err(`crypto: ${firstLine(error)}`);
  return EXIT.failed;
}

if (require.main === module) {
  process.umask(PRIVATE_UMASK);
  loadDotEnv(process.cwd(), (file) => process.loadEnvFile(file));
  const prompter = process.stdin.isTTY === true ? terminalPrompter(process.stdin, process.stdout) : pipedPrompter(process.stdin);
  void runCrypto(process.argv.slice(2), processIo(process.stdout, process.stderr), { env: process.env, prompter })
    .then((code) => {
      process.exitCode = code;
    });
}
