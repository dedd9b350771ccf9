// An approval in an encrypted room, with a real matrix-js-sdk client (Rust crypto, a child process): the built bot
// (MATRIX_E2EE=true) posts the prompt and its ✅/❌ encrypted; the client decrypts them, answers with an encrypted
// reaction, which the bot decrypts; the run resumes and the client decrypts the answer and the prompt's outcome.
import { randomBytes } from "node:crypto";
import { botEnv, ChildBot, makeDataDir, removeDir } from "../../support/bot-harness";
import { startHomeserver, type Homeserver } from "../../support/homeserver";
import { JsSdkPeer, type PeerMessage } from "../../support/js-sdk-peer";
import { closeScriptedAgents } from "../../support/scripted-agent";
import { scaled } from "../../support/wait";
import { LIVE_TEST_ENV } from "../live/support";
import { resumeRuns, startPausingAgent } from "./support";

jest.setTimeout(scaled(120_000));

describe("an approval in an encrypted room", () => {
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

  it("prompt, reactions and answer encrypted; the encrypted reaction resumes the run", async () => {
    const account = hs.addUser("bot", { displayName: "Agent Bot" });
    const agent = await startPausingAgent();
    bot = new ChildBot(botEnv({ homeserverUrl: hs.url, accessToken: account.accessToken, dataDir,
      extra: { MATRIX_E2EE: "true", CRYPTO_PASSPHRASE: `pp-${randomBytes(12).toString("hex")}`, AGENT_URL: agent.url, ...LIVE_TEST_ENV } }));
    await bot.ready(20_000);
    alice = new JsSdkPeer({ hsUrl: hs.url, ...hs.addUser("alice", { displayName: "Alice" }) });
    await alice.start();
    const room = await alice.createEncryptedRoom({ invite: [account.userId], isDirect: true });
    await alice.waitMember(room, account.userId, "join");
    await alice.send(room, "mail Bob");

    const fromBot = (ms: PeerMessage[]) => ms.filter((m) => m.sender === account.userId);
    const prompt = await alice.waitMessages(room, (ms) => fromBot(ms).find((m) => String(m.originalContent["body"]).startsWith("🔐")),
      "the decrypted prompt", 60_000);
    expect(prompt.encrypted).toBe(true);
    const reactions = await alice.waitMessages(room, (ms) => {
      const r = fromBot(ms).filter((m) => m.type === "m.reaction");
      return r.length === 2 ? r : undefined;
    }, "the bot's decrypted ✅ and ❌", 60_000);
    expect(reactions.every((r) => r.encrypted)).toBe(true);
    expect(reactions.map((r) => (r.originalContent["m.relates_to"] as Record<string, unknown>)["key"])).toEqual(["✅", "❌"]);

    await alice.sendContent(room, { "m.relates_to": { rel_type: "m.annotation", event_id: prompt.eventId, key: "✅" } }, "m.reaction");
    const answer = await alice.waitMessages(room, (ms) => fromBot(ms).find((m) => String(m.originalContent["body"]).startsWith("resumed:")),
      "the decrypted answer of the resumed run", 60_000);
    expect(answer.encrypted).toBe(true);
    expect(answer.originalContent["body"]).toBe('resumed: [{"interruptId":"i1","status":"resolved","payload":{"approved":true}}]');
    await alice.waitMessages(room, (ms) => fromBot(ms).some((m) => m.eventId === prompt.eventId && String(m.content["body"]).includes("✅ approved by Alice")),
      "the prompt's outcome, decrypted", 60_000);
    expect(resumeRuns(agent)).toHaveLength(1);
    // Nothing of the prompt travelled in the clear.
    expect(hs.sent({ roomId: room, sender: account.userId }).filter((e) => e.type === "m.reaction" || e.type === "m.room.message")).toEqual([]);
  });
});
