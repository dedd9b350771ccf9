// Cross-signing as a person's client sees it: matrix-js-sdk 34 (Rust crypto) asks the homeserver double for the bot's
// keys and reports whether the bot's device is signed by its owner. On a homeserver like Synapse 1.67 the upload
// needs the account password (`npm run crypto -- setup`, asked once, never printed or logged); on one with MSC3967
// the bot does it at its first start.
import { randomBytes } from "node:crypto";
import pino from "pino";
import { startHomeserver, type Homeserver } from "../../support/homeserver";
import { botEnv, ChildBot, makeDataDir, removeDir } from "../../support/bot-harness";
import { JsSdkPeer } from "../../support/js-sdk-peer";
import { runCli } from "../../unit/ops/support";
import { assertNoSecrets } from "../../support/log-capture";
import { MemoryAgentJournal, echoReplyFor, startReferenceAgent, type ReferenceAgent } from "../../../src/reference-agent/server";
import { createEchoBrain } from "../../../src/reference-agent/brain";
import { scaled, waitFor } from "../../support/wait";

jest.setTimeout(scaled(90_000));

/** `npm run crypto` as an operator runs it, answers piped to stdin. */
const crypto = (args: string[], env: Record<string, string>, input: string) =>
  runCli("crypto", args, { cwd: env["DATA_DIR"] ?? ".", env, input, timeoutMs: 60_000 });

describe("cross-signing: the bot's device verified by its owner", () => {
  let hs: Homeserver;
  let agent: ReferenceAgent;
  let alice: JsSdkPeer;
  const dataDirs: string[] = [];
  const bots: ChildBot[] = [];
  const token = randomBytes(16).toString("hex");
  const passphrase = `pp-${randomBytes(12).toString("hex")}`;
  const password = `pw-${randomBytes(12).toString("hex")}`;

  const world = async (opts: { msc3967: boolean }) => {
    hs = await startHomeserver({ crossSigningFirstUploadWithoutAuth: opts.msc3967 });
    agent = await startReferenceAgent({ host: "127.0.0.1", port: 0, token, logger: pino({ level: "silent" }),
      mode: { kind: "custom", brain: createEchoBrain() }, journal: new MemoryAgentJournal() });
    const account = hs.addUser("bot", { displayName: "Agent Bot", password });
    const dataDir = makeDataDir();
    dataDirs.push(dataDir);
    const env = botEnv({ homeserverUrl: hs.url, accessToken: account.accessToken, dataDir,
      extra: { MATRIX_E2EE: "true", CRYPTO_PASSPHRASE: passphrase, AGENT_URL: agent.url, AGENT_TOKEN: token } });
    alice = new JsSdkPeer({ hsUrl: hs.url, ...hs.addUser("alice", { displayName: "Alice" }) });
    await alice.start();
    return { account, env };
  };
  const startBot = async (env: Record<string, string>): Promise<ChildBot> => {
    const bot = new ChildBot(env);
    bots.push(bot);
    return bot.ready(scaled(30_000));
  };

  /** Waits until Alice's client shows the device signed by its owner (it refetches keys after a device-list change). */
  const signedByOwner = (userId: string, deviceId: string) => waitFor(async () => {
    const trust = await alice.deviceTrust(userId, deviceId);
    return trust.signedByOwner ? trust : undefined;
  }, { what: "Alice's client showing the bot's device signed by its owner" });

  afterEach(async () => {
    await alice?.stop();
    for (const b of bots.splice(0)) await b.stop(); // checks the bot's output for its token and passphrase
    await agent?.close();
    await hs?.close();
    for (const d of dataDirs.splice(0)) removeDir(d);
  });

  it("Synapse 1.67's interactive auth: `npm run crypto -- setup` asks for the password once; then the client shows the device signed by its owner", async () => {
    const { account, env } = await world({ msc3967: false });
    let bot = await startBot(env);
    await bot.logs.waitFor((l) => /not cross-signed/.test(l.msg ?? ""), "the bot saying it is not cross-signed");
    const dm = await alice.createEncryptedRoom({ invite: [account.userId], isDirect: true });
    await alice.waitMember(dm, account.userId, "join");
    expect(await alice.deviceTrust(account.userId, account.deviceId)).toEqual({ known: true, signedByOwner: false, crossSigningVerified: false });

    const setupStart = hs.requests.length;
    const whileRunning = await crypto(["setup"], env, `${password}\n`);
    expect(whileRunning.code).toBe(1);
    expect(whileRunning.stderr).toMatch(/the bot is running/);
    await bot.stop();

    const run = await crypto(["setup"], env, `${password}\n`);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(run.stdout).toMatch(/Cross-signing: set up for @bot:localhost/);
    assertNoSecrets([run.stdout, run.stderr], [password, passphrase, account.accessToken]);
    // The password went to the homeserver once: one interactive-auth answer carried it.
    const withAuth = hs.requests.slice(setupStart).filter((r) => r.path.endsWith("/keys/device_signing/upload"));
    expect(withAuth.map((r) => r.status)).toEqual([401, 200]);

    bot = await startBot(env);
    // Alice's client learns of the new keys from its sync's device-list changes.
    expect(await signedByOwner(account.userId, account.deviceId)).toEqual({ known: true, signedByOwner: true, crossSigningVerified: false });
    await alice.send(dm, "signed now?");
    await alice.waitMessages(dm, (ms) => ms.find((m) => m.sender === account.userId && m.content["body"] === echoReplyFor("signed now?")), "the answer");
    const again = await (async () => {
      await bot.stop();
      return crypto(["setup"], env, "");
    })();
    expect(again).toMatchObject({ code: 0, stdout: expect.stringMatching(/already set up/) });
  });

  it("a homeserver with MSC3967 takes the first upload without auth: the bot cross-signs itself at its first start", async () => {
    const { account, env } = await world({ msc3967: true });
    const bot = await startBot(env);
    await bot.logs.waitFor((l) => /cross-signing set up/.test(l.msg ?? ""), "the bot saying it cross-signed its device");
    const dm = await alice.createEncryptedRoom({ invite: [account.userId], isDirect: true });
    await alice.waitMember(dm, account.userId, "join");
    await signedByOwner(account.userId, account.deviceId);
  });
});
