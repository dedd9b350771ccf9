// Cross-signing and key backup on Synapse 1.67, client mode: `npm run crypto -- setup` gets through Synapse's real
// user-interactive auth with the account password, Alice's matrix-js-sdk client shows the bot's device signed by its
// owner, room keys reach Synapse's key backup, and `npm run crypto -- restore` brings a wiped crypto store back from
// it. test/e2e/crypto/ proves the same and more against the double; this proves the double right about Synapse.
import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { echoReply } from "../../src/reference-agent/brain";
import { UNDECRYPTABLE_NOTICE } from "../../src/matrix/crypto";
import { MatrixTestUser } from "../support/matrix-test-user";
import { waitFor } from "../support/wait";
import { runCli } from "../unit/ops/support";
import { BotUnderTest, botEnvFor } from "./support/bot";
import { ScenarioAgent } from "./support/brain";
import { botLogDir, synapseRun } from "./support/run";
import { messagesBy, signInPerson, type PersonOnSynapse } from "./support/world";

describe("cross-signing and key backup on Synapse (client mode)", () => {
  const run = synapseRun();
  const account = run.users.trustbot;
  const passphrase = `pp-${randomBytes(12).toString("hex")}`;
  const agent = new ScenarioAgent();
  // The token lives in DATA_DIR/credentials.json (as `npm run login` leaves it): restore replaces it.
  const envFor = (dataDir: string): Record<string, string> => {
    const env: Record<string, string> = { ...botEnvFor(run, "client", dataDir, agent, account), MATRIX_E2EE: "true", CRYPTO_PASSPHRASE: passphrase };
    delete env["MATRIX_ACCESS_TOKEN"];
    return env;
  };
  const bot = new BotUnderTest(envFor, { secrets: [account.accessToken, account.password], logs: { dir: botLogDir(run), label: "trust" } });
  const crypto = (args: string[], input: string) => runCli("crypto", args, { cwd: bot.dataDir, env: envFor(bot.dataDir), input, timeoutMs: 120_000 });
  let alice: PersonOnSynapse;
  let dm = "";
  let backupKey = "";
  let deviceId = "";
  const answered = (body: string) => alice.peer.waitMessages(dm, (ms) => messagesBy(ms, account.userId).find((m) => m.body === body && !m.live),
    `"${body}" from the bot`, 60_000);

  beforeAll(async () => {
    await agent.start();
    const who = await new MatrixTestUser(run.url, { userId: account.userId, accessToken: account.accessToken })
      .call<{ device_id: string }>("GET", "account/whoami");
    deviceId = who.device_id;
    writeFileSync(path.join(bot.dataDir, "credentials.json"),
      JSON.stringify({ homeserverUrl: run.url, userId: account.userId, accessToken: account.accessToken, deviceId }), { mode: 0o600 });
    alice = await signInPerson(run, "alice", { crypto: true });
  });
  afterAll(async () => {
    await alice?.peer.stop();
    await bot.stop(); // checks the output for the token, the password and CRYPTO_PASSPHRASE
    await agent.close();
  });

  it("setup passes Synapse's interactive auth with the password; Alice's client shows the bot's device signed by its owner", async () => {
    const setup = await crypto(["setup"], `${account.password}\n`);
    expect({ code: setup.code, stderr: setup.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(`${setup.stdout}${setup.stderr}`).not.toContain(account.password);
    backupKey = /restore` needs it[^\n]*\n\s+(\S+)/.exec(setup.stdout)?.[1] ?? "";
    expect(backupKey).toMatch(/^[A-Za-z0-9+/]{40,}/);
    await bot.start();
    dm = await alice.peer.createEncryptedRoom({ invite: [account.userId], isDirect: true });
    await alice.peer.waitMember(dm, account.userId, "join", 30_000);
    await waitFor(async () => (await alice.peer.deviceTrust(account.userId, deviceId)).signedByOwner || undefined,
      { what: "Alice's client showing the bot's device signed by its owner", timeoutMs: 60_000 });
  });

  it("backs room keys up to Synapse; after the crypto store is wiped, restore brings back what was backed up", async () => {
    await alice.peer.send(dm, "first, while the bot runs");
    await answered(echoReply("first, while the bot runs"));
    const botHttp = new MatrixTestUser(run.url, { userId: account.userId, accessToken: account.accessToken });
    await waitFor(async () => ((await botHttp.call<{ count: number }>("GET", "room_keys/version")).count >= 1) || undefined,
      { what: "the DM's room key in Synapse's key backup", timeoutMs: 60_000 });
    await bot.kill();
    await alice.peer.send(dm, "second, key in the backup");
    await alice.peer.discardSession(dm);
    await alice.peer.send(dm, "third, key only on the wiped device");
    rmSync(path.join(bot.dataDir, "crypto"), { recursive: true, force: true });

    const restore = await crypto(["restore"], `${backupKey}\n${account.password}\n`);
    expect({ code: restore.code, stderr: restore.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(restore.stdout).toMatch(new RegExp(`old device ${deviceId} was deleted`));
    expect(`${restore.stdout}${restore.stderr}`).not.toContain(account.password);
    await bot.start();
    await answered(echoReply("second, key in the backup"));
    await alice.peer.waitMessages(dm, (ms) => messagesBy(ms, account.userId).find((m) => m.body === UNDECRYPTABLE_NOTICE), "the notice", 60_000);
    await bot.waitForIdle();
    const bodies = messagesBy(await alice.peer.messages(dm), account.userId).map((m) => m.body);
    expect(bodies.filter((b) => b === UNDECRYPTABLE_NOTICE)).toHaveLength(1);
    expect(bodies).not.toContain(echoReply("third, key only on the wiped device"));
  });
});
