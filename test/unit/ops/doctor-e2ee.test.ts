// `npm run doctor` with MATRIX_E2EE=true in appservice mode: a registration without the flags with which Synapse
// puts room keys and key counts in transactions fails the crypto check, naming the missing lines and the fix.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { makeDataDir, removeDir, writeRegistration } from "../../support/bot-harness";
import { startHomeserver, type Homeserver } from "../../support/homeserver";
import { expectNoSecrets, runCli, type CliRun } from "./support";

const cryptoLines = (run: CliRun): string[] => {
  const lines = run.stdout.split("\n");
  const at = lines.findIndex((l) => /^[✓✗–] crypto:/.test(l));
  return lines.slice(at, at + 2);
};

describe("npm run doctor: appservice encryption", () => {
  let hs: Homeserver;
  let dir: string;
  beforeEach(async () => {
    hs = await startHomeserver({ serverName: "localhost" });
    dir = makeDataDir();
  });
  afterEach(async () => {
    await hs.close();
    removeDir(dir);
  });

  const doctor = async (flags: Record<string, boolean>): Promise<CliRun> => {
    const reg = writeRegistration(dir, { port: 9, flags });
    hs.addAppservice(parse(readFileSync(reg.path, "utf8")));
    const run = await runCli("doctor", ["--timeout-ms", "3000"], { cwd: dir, env: {
      MATRIX_HOMESERVER_URL: hs.url, MATRIX_REGISTRATION: reg.path, DATA_DIR: dir, MATRIX_E2EE: "true", CRYPTO_PASSPHRASE: "doctor-pass-1" } });
    expectNoSecrets(run, [reg.asToken, reg.hsToken, "doctor-pass-1"]);
    return run;
  };

  it("fails the crypto check for a registration without the encryption flags, naming them and the fix", async () => {
    const run = await doctor({ "de.sorunome.msc2409.push_ephemeral": true });
    expect(run.code).toBe(1);
    const [check, fix] = cryptoLines(run);
    expect(check).toMatch(/^✗ crypto: MATRIX_E2EE=true, but the registration .* lacks receive_ephemeral: true, org\.matrix\.msc3202: true/);
    expect(fix).toMatch(/fix: add those lines to the registration file .*experimental_features/);
  });

  it("passes with the flags", async () => {
    const run = await doctor({ "de.sorunome.msc2409.push_ephemeral": true, receive_ephemeral: true, "org.matrix.msc3202": true });
    expect(cryptoLines(run)[0]).toMatch(/^✓ crypto: MATRIX_E2EE=true: .*the registration asks for to-device messages and key counts/);
  });
});
