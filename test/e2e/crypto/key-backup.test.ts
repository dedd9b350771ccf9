// Key backup as an operator lives it: `npm run crypto -- setup` starts the backup and shows its key once; the bot
// backs up room keys as they arrive; DATA_DIR/crypto is wiped; `npm run crypto -- restore` makes, cross-signs and
// fills a new device from the backup and deletes the old one. A real matrix-js-sdk client then sees the message whose
// key was in the backup answered, and, for the one whose key went only to the wiped device, the one notice.
import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import pino from "pino";
import { startHomeserver, type Homeserver } from "../../support/homeserver";
import { botEnv, ChildBot, makeDataDir, removeDir } from "../../support/bot-harness";
import { JsSdkPeer, type PeerMessage } from "../../support/js-sdk-peer";
import { MatrixTestUser } from "../../support/matrix-test-user";
import { runCli } from "../../unit/ops/support";
import { assertNoSecrets } from "../../support/log-capture";
import { MemoryAgentJournal, echoReplyFor, startReferenceAgent, type ReferenceAgent } from "../../../src/reference-agent/server";
import { createEchoBrain } from "../../../src/reference-agent/brain";
import { UNDECRYPTABLE_NOTICE } from "../../../src/matrix/crypto";
import { INTRO_MARKER } from "../../../src/rooms/lifecycle/records";
import { scaled, waitFor } from "../../support/wait";

jest.setTimeout(scaled(150_000));

/** `npm run crypto` as an operator runs it, answers piped to stdin. */
const crypto = (args: string[], env: Record<string, string>, input: string) =>
  runCli("crypto", args, { cwd: env["DATA_DIR"] ?? ".", env, input, timeoutMs: 60_000 });

describe("key backup: a wiped crypto store restored from the server-side backup", () => {
  let hs: Homeserver;
  let agent: ReferenceAgent;
  let alice: JsSdkPeer;
  let dataDir: string;
  const bots: ChildBot[] = [];
  const token = randomBytes(16).toString("hex");
  const passphrase = `pp-${randomBytes(12).toString("hex")}`;
  const password = `pw-${randomBytes(12).toString("hex")}`;

  afterAll(async () => {
    await alice?.stop();
    for (const b of bots.splice(0)) await b.stop();
    await agent?.close();
    await hs?.close();
    if (dataDir) removeDir(dataDir);
  });

  it("answers the message whose key was backed up, and gives the one notice for the one whose key only the wiped device had", async () => {
    hs = await startHomeserver();
    agent = await startReferenceAgent({ host: "127.0.0.1", port: 0, token, logger: pino({ level: "silent" }),
      mode: { kind: "custom", brain: createEchoBrain() }, journal: new MemoryAgentJournal() });
    const account = hs.addUser("bot", { displayName: "Agent Bot", password });
    dataDir = makeDataDir();
    // Client mode with the token in DATA_DIR/credentials.json (as `npm run login` leaves it): restore replaces it.
    writeFileSync(path.join(dataDir, "credentials.json"), JSON.stringify({ homeserverUrl: hs.url, ...account }), { mode: 0o600 });
    const { MATRIX_ACCESS_TOKEN: _unused, ...env } = botEnv({ homeserverUrl: hs.url, accessToken: account.accessToken, dataDir,
      extra: { MATRIX_E2EE: "true", CRYPTO_PASSPHRASE: passphrase, AGENT_URL: agent.url, AGENT_TOKEN: token, LOG_REPEAT_WINDOW_MS: "0" } });
    const startBot = async (): Promise<ChildBot> => {
      const bot = new ChildBot(env);
      bots.push(bot);
      return bot.ready(scaled(30_000));
    };
    alice = new JsSdkPeer({ hsUrl: hs.url, ...hs.addUser("alice", { displayName: "Alice" }) });
    await alice.start();
    const fromBot = (ms: PeerMessage[]) => ms.filter((m) => m.sender === account.userId && m.content[INTRO_MARKER] !== true);
    const answered = (roomId: string, text: string) =>
      alice.waitMessages(roomId, (ms) => fromBot(ms).find((m) => m.content["body"] === echoReplyFor(text)), `the answer to "${text}"`);

    // Setup: cross-signing and the backup; the backup key is shown once.
    const setup = await crypto(["setup"], env, `${password}\n`);
    expect(setup.code).toBe(0);
    const backupKey = /restore\` needs it[^\n]*\n\s+(\S+)/.exec(setup.stdout)?.[1] ?? "";
    expect(backupKey).toMatch(/^[A-Za-z0-9+/]{40,}/);
    expect(setup.stdout.split(backupKey)).toHaveLength(2);
    assertNoSecrets([setup.stdout, setup.stderr], [password, passphrase, account.accessToken]);

    let bot = await startBot();
    const dm = await alice.createEncryptedRoom({ invite: [account.userId], isDirect: true });
    await alice.waitMember(dm, account.userId, "join");
    await alice.send(dm, "first, while the bot runs");
    await answered(dm, "first, while the bot runs");
    const botHttp = new MatrixTestUser(hs.url, account);
    await waitFor(async () => ((await botHttp.call<{ count: number }>("GET", "room_keys/version")).count >= 1) || undefined,
      { what: "the room key of the DM in the backup" });
    await bot.stop();
    const doctor = await runCli("doctor", ["--timeout-ms", "3000"], { cwd: dataDir, env, timeoutMs: 30_000 });
    expect(doctor.stdout).toMatch(/key backup: version 1, (\d+) of \1 room keys backed up \(lag 0\)/);

    // While the bot is down: one more message with the backed-up session, one with a new session only the old device gets.
    await alice.send(dm, "second, key in the backup");
    await alice.discardSession(dm);
    await alice.send(dm, "third, key only on the wiped device");
    rmSync(path.join(dataDir, "crypto"), { recursive: true, force: true });

    const restore = await crypto(["restore"], env, `${backupKey}\n${password}\n`);
    expect({ code: restore.code, stderr: restore.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(restore.stdout).toMatch(/[1-9]\d* of \d+ room keys imported/);
    expect(restore.stdout).toMatch(new RegExp(`old device ${account.deviceId} was deleted`));
    assertNoSecrets([restore.stdout, restore.stderr], [password, passphrase, backupKey]);
    expect((await botHttp.request("GET", "account/whoami")).status).toBe(401); // the old device's token went with it

    bot = await startBot();
    await answered(dm, "second, key in the backup");
    await alice.waitMessages(dm, (ms) => fromBot(ms).find((m) => m.content["body"] === UNDECRYPTABLE_NOTICE), "the undecryptable notice");
    await alice.send(dm, "fourth, after the restore");
    await answered(dm, "fourth, after the restore");
    const bodies = fromBot(await alice.messages(dm)).map((m) => m.content["body"]);
    expect(bodies.filter((b) => b === UNDECRYPTABLE_NOTICE)).toHaveLength(1);
    expect(bodies).not.toContain(echoReplyFor("third, key only on the wiped device"));
  });
});
