// MATRIX_E2EE=true is checked before the bot does anything: without CRYPTO_PASSPHRASE the built bot stops at once
// with exit code 2 and one message naming the variable and the fix; in appservice mode, a homeserver that does not let
// the as_token act as the bot's device stops the start with the fix, and a registration without the flags encryption
// needs is named at start. It never runs with encryption silently missing.
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

  /** The bot in appservice mode with encryption on, against `server`. */
  const appserviceBot = async (server: Homeserver, flags?: Record<string, boolean>): Promise<ChildBot> => {
    const port = await freePort();
    const reg = writeRegistration(dataDir, { port, ...(flags ? { flags } : {}) });
    server.addAppservice(parse(readFileSync(reg.path, "utf8")));
    return new ChildBot(appserviceEnv({ homeserverUrl: server.url, registrationPath: reg.path, port, dataDir,
      extra: { MATRIX_E2EE: "true", CRYPTO_PASSPHRASE: "a passphrase" } }));
  };

  it("in appservice mode, stops at start with the fix when the homeserver does not let it act as its device", async () => {
    const strict = await startHomeserver({ appserviceE2ee: { deviceMasquerading: false } });
    try {
      const child = await appserviceBot(strict);
      expect((await child.exited).code).toBe(1);
      const fatal = child.logs.lines().find((l) => l.msg === "could not start");
      expect(JSON.stringify(fatal?.["err"])).toMatch(/device masquerading.*Fix: on Synapse, set experimental_features: msc3202_device_masquerading: true/);
      await child.stop();
    } finally {
      await strict.close();
    }
  });

  it("in appservice mode, names the registration flags encryption needs when they are missing", async () => {
    const child = await appserviceBot(hs, { "de.sorunome.msc2409.push_ephemeral": true });
    await child.ready(30_000);
    const warning = child.logs.lines().find((l) => String(l.msg).startsWith("MATRIX_E2EE=true, but the registration lacks flags"));
    expect(warning?.["missing"]).toEqual(["receive_ephemeral", "org.matrix.msc3202"]);
    await child.stop();
  });
});
