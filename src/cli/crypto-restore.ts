// `npm run crypto -- restore` (client mode): the bot's crypto store is lost or replaced. With the account's password
// and the backup key `setup` showed, it logs in a new device (saved in DATA_DIR/credentials.json), cross-signs it
// (new cross-signing keys: the old private ones were in the lost store), imports the backed-up room keys, keeps
// backing up to the same backup, and deletes the old device (its tokens and keys go with it). A store still in
// DATA_DIR/crypto is moved aside first (crypto.replaced-<time>), never deleted.
import * as fs from "node:fs";
import * as path from "node:path";
import type { Logger } from "pino";
import type { Config } from "../config";
import { readVariable } from "../config/problems";
import { createMatrixHttp } from "../matrix/http";
import { startCrypto, cryptoStoreDir, LOCK_FILE, type CryptoRuntime } from "../matrix/crypto";
import { acquireStoreLock } from "../matrix/crypto/store-lock";
import { restoreBackup, type BackupMachine } from "../matrix/crypto/key-backup";
import type { TrustHttp } from "../matrix/crypto/trust-http";
import { CliFailure, EXIT, writeFileAtomic, type CliIo } from "./cli-support";
import { logIn } from "./login";
import type { Prompter } from "./prompt";

export async function restore(config: Config, env: Record<string, string | undefined>, io: CliIo, prompter: Prompter, log: Logger): Promise<number> {
  if (config.mode !== "client") throw new CliFailure("restore works in client mode only: an appservice's device is made by the bot itself (runbook/encryption.md)");
  const oldHttp = createMatrixHttp({ homeserverUrl: config.homeserverUrl, accessToken: config.accessToken ?? "", requestTimeoutMs: config.timings.requestTimeoutMs });
  const who = await oldHttp.request<{ user_id?: unknown; device_id?: unknown }>("GET", "/_matrix/client/v3/account/whoami")
    .catch(() => { throw new CliFailure("the saved access token does not work: log in with `npm run login`, then run restore again"); });
  if (typeof who.user_id !== "string") throw new CliFailure("the homeserver's whoami answer has no user_id");
  const userId = who.user_id;
  const oldDevice = typeof who.device_id === "string" ? who.device_id : undefined;
  const backupKey = await prompter.askSecret("Backup key (shown by `npm run crypto -- setup`)");
  const password = await prompter.askSecret(`Password of ${userId}`);

  await moveStoreAside(cryptoStoreDir(config.dataDir), io);
  const credentials = await logIn(config.homeserverUrl, userId, password, config.botDisplayName ?? "matrix-agent-bot", config.timings.requestTimeoutMs);
  writeFileAtomic(path.join(config.dataDir, "credentials.json"), `${JSON.stringify(credentials, null, 2)}\n`, 0o600);
  io.out(`New device ${credentials.deviceId} for ${userId}; its access token is saved in ${path.join(config.dataDir, "credentials.json")}.`);
  if (readVariable(env, "MATRIX_ACCESS_TOKEN") !== undefined) {
    io.out("MATRIX_ACCESS_TOKEN is set and takes precedence over credentials.json: remove it (the old device's token stops working).");
  }
  const http = createMatrixHttp({ homeserverUrl: config.homeserverUrl, accessToken: credentials.accessToken, requestTimeoutMs: config.timings.requestTimeoutMs });
  let runtime: CryptoRuntime | undefined;
  try {
    runtime = await startCrypto({ homeserverUrl: config.homeserverUrl, accessToken: credentials.accessToken, dataDir: config.dataDir,
      passphrase: config.cryptoPassphrase ?? "", http, log, crossSignAtStart: false });
    const signed = await runtime.trust.crossSign(async () => password);
    io.out(signed.status === "uploaded" ? "Cross-signing: new keys made, the new device signed." : `Cross-signing: not done (${signed.status}).`);
    const restored = await restoreBackup(runtime.trust.machine as BackupMachine, runtime.trust.http, backupKey);
    io.out(`Key backup: ${restored.imported} of ${restored.total} room keys imported from backup version ${restored.version}; new keys are backed up there too.`);
    if (oldDevice !== undefined && oldDevice !== credentials.deviceId) await deleteDevice(runtime.trust.http, userId, oldDevice, password, io);
  } finally {
    await runtime?.stop();
  }
  io.out("Done: start the bot.");
  return EXIT.ok;
}

async function moveStoreAside(dir: string, io: CliIo): Promise<void> {
  if (!fs.existsSync(dir)) return;
  const lock = await acquireStoreLock(path.join(dir, LOCK_FILE)); // a running bot holds it: StoreLockedError
  await lock.release();
  const aside = `${dir}.replaced-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  fs.renameSync(dir, aside);
  io.out(`The crypto store there was moved to ${aside}.`);
}

async function deleteDevice(http: TrustHttp, userId: string, deviceId: string, password: string, io: CliIo): Promise<void> {
  const first = await http.delete(`/_matrix/client/v3/devices/${encodeURIComponent(deviceId)}`, {});
  let answer = first;
  const session = (first.body as { session?: unknown } | undefined)?.session;
  if (first.status === 401 && typeof session === "string") {
    answer = await http.delete(`/_matrix/client/v3/devices/${encodeURIComponent(deviceId)}`, {
      auth: { type: "m.login.password", identifier: { type: "m.id.user", user: userId }, password, session } });
  }
  if (answer.status === 200 || answer.status === 404) io.out(`The old device ${deviceId} was deleted.`);
  else io.out(`The old device ${deviceId} could not be deleted (HTTP ${answer.status}); delete it from a client's session list.`);
}
