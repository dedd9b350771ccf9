// MATRIX_E2EE=true is checked before the bot does anything: without CRYPTO_PASSPHRASE, or in appservice mode, the
// built bot stops at once with exit code 2 and one message naming the variable and the fix; it never runs with
// encryption silently missing.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { appserviceEnv, botEnv, ChildBot, freePort, makeDataDir, removeDir, writeRegistration } from "../support/bot-harness";
import { startHomeserver, type Homeserver } from "../support/homeserver";

describe("the bot started with MATRIX_E2EE=true", () => {
  let hs: Homeserver;
  let dataDir: string;
  beforeEach(async () => {
    hs = await startHomeserver();
    dataDir = makeDataDir();
  });
  afterEach(async () => {
    await hs.close();
    removeDir(dataDir);
  });

  const output = (child: ChildBot): string => [...child.logs.raw, ...child.stderr].join("\n");

  it("refuses to start without CRYPTO_PASSPHRASE and says how to set one", async () => {
    const bot = hs.addUser("bot");
    const child = new ChildBot(botEnv({ homeserverUrl: hs.url, accessToken: bot.accessToken, dataDir, extra: { MATRIX_E2EE: "true" } }));
    expect((await child.exited).code).toBe(2);
    expect(output(child)).toMatch(/CRYPTO_PASSPHRASE.*required with MATRIX_E2EE=true/);
    expect(hs.requests).toEqual([]); // nothing was attempted
    await child.stop();
  });

  it("refuses appservice mode, naming client mode", async () => {
    const port = await freePort();
    const reg = writeRegistration(dataDir, { port });
    hs.addAppservice(parse(readFileSync(reg.path, "utf8")));
    const child = new ChildBot(appserviceEnv({ homeserverUrl: hs.url, registrationPath: reg.path, port, dataDir,
      extra: { MATRIX_E2EE: "true", CRYPTO_PASSPHRASE: "a passphrase" } }));
    expect((await child.exited).code).toBe(2);
    expect(output(child)).toMatch(/MATRIX_E2EE.*client mode only/);
    await child.stop();
  });
});
