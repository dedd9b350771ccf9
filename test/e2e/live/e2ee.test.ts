// A live answer in an encrypted room, read by a real matrix-js-sdk client (Rust crypto, a child process): the
// built bot (a child process, MATRIX_E2EE=true) streams it encrypted, every event of it, each under the event
// size limit as ciphertext; the client decrypts the first event marked live, live edits, and a final edit that
// is not marked and holds the whole answer.
import { randomBytes } from "node:crypto";
import { LIVE_MARKER } from "../../../src/render/live-content";
import { INTRO_MARKER } from "../../../src/rooms/lifecycle/records";
import { botEnv, ChildBot, makeDataDir, removeDir } from "../../support/bot-harness";
import { foldEdits, replacedEventId } from "../../support/bot-messages";
import { startHomeserver, type Homeserver } from "../../support/homeserver";
import { JsSdkPeer, type PeerMessage } from "../../support/js-sdk-peer";
import { closeScriptedAgents } from "../../support/scripted-agent";
import { botEvents, LIVE_TEST_ENV, longAnswer, startStreamingAgent } from "./support";
import { scaled } from "../../support/wait";

jest.setTimeout(scaled(120_000));

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

    // Each event as sent (the client shows an edited message with its latest edit applied).
    const fromBot = (ms: PeerMessage[]): PeerMessage[] => ms.filter((m) => m.sender === account.userId && m.content[INTRO_MARKER] !== true)
      .map((m) => ({ ...m, content: m.originalContent }));
    const end = answer.slice(-40);
    const seen = await alice.waitMessages(room, (ms) => {
      const msgs = foldEdits(fromBot(ms).map((m) => ({ ...m, event_id: m.eventId })));
      return msgs.length > 0 && msgs.every((m) => !m.live) && String(msgs.at(-1)?.content["body"]).endsWith(end) ? ms : undefined;
    }, "the whole answer, decrypted", 90_000);

    // On the homeserver: nothing in the clear, every event under the size limit as ciphertext.
    const stored = botEvents(hs, room, account.userId);
    expect(stored.map((e) => e.type).filter((t) => t !== "m.room.encrypted")).toEqual([]);
    for (const e of stored) expect(Buffer.byteLength(JSON.stringify(e), "utf8")).toBeLessThan(65_536);
    // In the client: first events marked live, live edits, the final edits not marked, the whole answer.
    const mine = fromBot(seen);
    expect(mine.every((m) => m.encrypted && !m.decryptionFailure)).toBe(true);
    const msgs = foldEdits(mine.map((m) => ({ ...m, event_id: m.eventId })));
    for (const m of msgs) {
      expect(mine.find((x) => x.eventId === m.event_id)?.content).toHaveProperty([LIVE_MARKER]);
      expect((m.edits.at(-1)?.content["m.new_content"] as Record<string, unknown>)).not.toHaveProperty([LIVE_MARKER]);
    }
    const liveEdits = mine.filter((m) => replacedEventId(m.content) !== undefined && LIVE_MARKER in (m.content["m.new_content"] as object));
    expect(liveEdits.length).toBeGreaterThanOrEqual(3);
    expect(msgs.map((m) => String(m.content["body"])).join("\n\n")).toBe(answer);
  });
});
