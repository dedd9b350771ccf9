// `npm run login` against the homeserver double: the saved credentials work in client mode; a wrong password
// is a clear message and exit 1; neither the token nor the password is ever printed.
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { loadConfig } from "../../../src/config";
import { makeDataDir, removeDir } from "../../support/bot-harness";
import { startHomeserver, type Homeserver } from "../../support/homeserver";
import { expectNoSecrets, runCli } from "./support";

const PASSWORD = "correct horse battery staple";

async function whoami(hs: Homeserver, token: string): Promise<number> {
  const res = await fetch(`${hs.url}/_matrix/client/v3/account/whoami`, { headers: { authorization: `Bearer ${token}` } });
  await res.text();
  return res.status;
}

describe("npm run login", () => {
  let hs: Homeserver;
  let dir: string;
  beforeEach(async () => {
    hs = await startHomeserver({ serverName: "localhost" });
    hs.addUser("bot", { password: PASSWORD });
    dir = makeDataDir();
  });
  afterEach(async () => {
    await hs.close();
    removeDir(dir);
  });

  const login = (args: string[], input: string, env: Record<string, string> = {}) =>
    runCli("login", ["--homeserver", hs.url, ...args], { cwd: dir, input, env });

  it("saves credentials.json that client mode uses, and prints who it is, never the token", async () => {
    const run = await login(["--user", "bot", "--data-dir", "data"], `${PASSWORD}\n`);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const file = path.join(dir, "data", "credentials.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(readFileSync(file, "utf8")) as { homeserverUrl: string; userId: string; accessToken: string; deviceId: string };
    expect(saved.userId).toBe("@bot:localhost");
    expect(saved.homeserverUrl).toBe(hs.url);
    expect(await whoami(hs, saved.accessToken)).toBe(200);

    const loaded = loadConfig({ MATRIX_HOMESERVER_URL: hs.url, MATRIX_MODE: "client", DATA_DIR: path.join(dir, "data") });
    if (!loaded.ok) throw new Error(loaded.message);
    expect(loaded.config.accessToken).toBe(saved.accessToken);
    expect(loaded.config.userId).toBe("@bot:localhost");
    expect(loaded.config.deviceId).toBe(saved.deviceId);

    // The file names the homeserver too: nothing else needs setting.
    const alone = loadConfig({ DATA_DIR: path.join(dir, "data") });
    if (!alone.ok) throw new Error(alone.message);
    expect(alone.config).toMatchObject({ homeserverUrl: hs.url, accessToken: saved.accessToken, mode: "client" });

    expect(run.stdout).toContain(`Logged in as @bot:localhost (device ${saved.deviceId})`);
    expect(run.stdout).toContain(`The bot takes the homeserver (${hs.url}) from there too: MATRIX_HOMESERVER_URL may stay unset.`);
    expectNoSecrets(run, [saved.accessToken, PASSWORD]);
  });

  it("reads an empty DATA_DIR (as in .env.example) as unset, like the bot: ./data", async () => {
    const run = await login(["--user", "bot"], `${PASSWORD}\n`, { DATA_DIR: "", MATRIX_HOMESERVER_URL: " " });
    expect(run.code).toBe(0);
    expect(existsSync(path.join(dir, "data", "credentials.json"))).toBe(true);
    expect(existsSync(path.join(dir, "credentials.json"))).toBe(false);
  });

  it("says when MATRIX_HOMESERVER_URL names another homeserver than the one logged in to", async () => {
    const run = await login(["--user", "bot"], `${PASSWORD}\n`, { MATRIX_HOMESERVER_URL: "https://other.example.org" });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`MATRIX_HOMESERVER_URL is https://other.example.org: set it to ${hs.url} (or remove it)`);
  });

  it("uses DATA_DIR from the environment and accepts a full user id", async () => {
    const run = await login(["--user", "@bot:localhost"], `${PASSWORD}\n`,
      { DATA_DIR: path.join(dir, "state"), MATRIX_HOMESERVER_URL: hs.url });
    expect(run.code).toBe(0);
    expect(existsSync(path.join(dir, "state", "credentials.json"))).toBe(true);
    expect(run.stdout).not.toContain("Set MATRIX_HOMESERVER_URL");
  });

  it("says the homeserver refused the user name or password, exits 1, and writes nothing", async () => {
    const run = await login(["--user", "bot", "--data-dir", "data"], "not the password\n");
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("The homeserver refused the user name or password (M_FORBIDDEN).");
    expect(existsSync(path.join(dir, "data", "credentials.json"))).toBe(false);
    expectNoSecrets(run, ["not the password"]);
  });

  it("says when the homeserver cannot be reached", async () => {
    const url = hs.url;
    await hs.close();
    const run = await runCli("login", ["--homeserver", url, "--user", "bot"], { cwd: dir, input: `${PASSWORD}\n` });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("connection refused");
    expect(run.stderr).toContain("Fix:");
  });

  it("with --logout-previous, logs the device saved before out", async () => {
    const first = await login(["--user", "bot", "--data-dir", "data"], `${PASSWORD}\n`);
    expect(first.code).toBe(0);
    const file = path.join(dir, "data", "credentials.json");
    const old = JSON.parse(readFileSync(file, "utf8")) as { accessToken: string; deviceId: string };
    const second = await login(["--user", "bot", "--data-dir", "data", "--logout-previous"], `${PASSWORD}\n`);
    expect(second.code).toBe(0);
    const now = JSON.parse(readFileSync(file, "utf8")) as { accessToken: string; deviceId: string };
    expect(now.deviceId).not.toBe(old.deviceId);
    expect(second.stdout).toContain(`Logged out the previous device ${old.deviceId}`);
    expect(await whoami(hs, old.accessToken)).toBe(401);
    expect(await whoami(hs, now.accessToken)).toBe(200);
    expectNoSecrets(second, [old.accessToken, now.accessToken, PASSWORD]);
  });

  it("reports an empty stdin instead of waiting for a password", async () => {
    const run = await login(["--user", "bot"], "");
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("stdin ended before the password");
  });
});
