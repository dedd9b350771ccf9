// A live answer in an encrypted room, read by a real matrix-js-sdk client (Rust crypto, a child process): the
// built bot (a child process, MATRIX_E2EE=true) streams it encrypted, every event of it, each under the event
// size limit as ciphertext; the client decrypts the first event marked live, live edits, and a final edit that
// is not marked and holds the whole answer.
import { randomBytes } from "node:crypto";
import { botEnv, ChildBot, makeDataDir, removeDir } from "../../support/bot-harness";
import { startHomeserver, type Homeserver } from "../../support/homeserver";
import { JsSdkPeer, type PeerMessage } from "../../support/js-sdk-peer";
import { closeScriptedAgents } from "../../support/scripted-agent";
import { decryptedAnswerWritten, decryptedAsSent, expectEncryptedLiveAnswer, LIVE_TEST_ENV, longAnswer, startStreamingAgent } from "./support";

jest.setTimeout(120_000);

describe("a live answer in an encrypted room", () => {
  let hs: Homeserver;
  let dataDir: string;
  let bot: ChildBot | undefined;
  let alice: JsSdkPeer | undefined;

  beforeAll(async () => {
    hs = await startHomeserver({ serverName: "localhost" });
    dataDir = makeDataDir();
  });
  afterAll(async () => {
    await alice?.stop();
    await bot?.stop();
    await closeScriptedAgents();
    await hs?.close();
    removeDir(dataDir);
  });

  it("streams encrypted; the client decrypts live edits and a final edit with the whole answer", async () => {
    const answer = longAnswer(3_000);
    const account = hs.addUser("bot", { displayName: "Agent Bot" });
    const agent = await startStreamingAgent({ protocol: 2, hs, botUserId: account.userId, answer: () => answer, deltas: 10 });
    bot = new ChildBot(botEnv({ homeserverUrl: hs.url, accessToken: account.accessToken, dataDir,
      extra: { MATRIX_E2EE: "true", CRYPTO_PASSPHRASE: `pp-${randomBytes(12).toString("hex")}`, AGENT_URL: agent.url, ...LIVE_TEST_ENV } }));
    await bot.ready(20_000);
    const aliceCreds = hs.addUser("alice", { displayName: "Alice" });
    alice = new JsSdkPeer({ hsUrl: hs.url, ...aliceCreds });
    await alice.start();
    const room = await alice.createEncryptedRoom({ invite: [account.userId], isDirect: true });
    await alice.waitMember(room, account.userId, "join");
    await alice.send(room, "a long answer, in secret");

    const fromBot = (ms: PeerMessage[]): PeerMessage[] => decryptedAsSent(ms, account.userId);
    const seen = await alice.waitMessages(room, (ms) => decryptedAnswerWritten(fromBot(ms), answer) && ms, "the whole answer, decrypted", 90_000);
    expectEncryptedLiveAnswer(hs, room, account.userId, fromBot(seen), answer);
  });
});
