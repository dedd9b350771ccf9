// What else works encrypted in client mode, in appservice mode with encryption (issue 27): a live answer streamed by
// edits, and an encrypted attachment. Alice's real client (matrix-js-sdk 34, Rust crypto) decrypts the live edits and
// the final text; the agent gets the image decrypted, byte for byte. The bot's room keys arrive in transactions
// (Synapse 1.67's field names); the tests run in order on one world.
import { EncryptedAppserviceWorld, WAIT_MS } from "../support/appservice-e2ee-world";
import type { PeerMessage } from "../support/js-sdk-peer";
import { pngImage } from "../support/media-samples";
import { closeScriptedAgents, type ScriptedAgent } from "../support/scripted-agent";
import { decryptedAnswerWritten, decryptedAsSent, expectEncryptedLiveAnswer, LIVE_TEST_ENV, longAnswer, startStreamingAgent } from "./live/support";
import { ALL_KINDS, partsOf } from "./media/support";

jest.setTimeout(150_000);

describe("appservice mode, encrypted: live answers and attachments", () => {
  const world = new EncryptedAppserviceWorld();
  const answer = longAnswer(2_000);
  let agent: ScriptedAgent;
  let dm: string;

  beforeAll(async () => {
    await world.start({ fields: "synapse-1.67" }, async (hs, botUserId) => {
      agent = await startStreamingAgent({ protocol: 2, hs, botUserId, deltas: 10,
        capabilities: { ...ALL_KINDS, transport: { streaming: true } }, answer: (run) => (run === 0 ? answer : "received") });
      return agent.url;
    });
    await world.startBot(LIVE_TEST_ENV);
    dm = await world.encryptedRoomWithBot({ isDirect: true });
  });
  afterAll(async () => {
    await world.stop();
    await closeScriptedAgents();
  });

  it("streams a live answer encrypted; the client decrypts the live edits and the final text", async () => {
    const { alice, hs, botUserId } = world;
    await alice.send(dm, "a long answer, in secret");
    const fromBot = (ms: PeerMessage[]): PeerMessage[] => decryptedAsSent(ms, botUserId);
    const seen = await alice.waitMessages(dm, (ms) => decryptedAnswerWritten(fromBot(ms), answer) && ms, "the whole answer, decrypted", 2 * WAIT_MS);
    expectEncryptedLiveAnswer(hs, dm, botUserId, fromBot(seen), answer);
    // The room key came in a transaction acknowledged 200.
    expect(world.acknowledgedKeyTransactions("de.sorunome.msc2409.to_device").length).toBeGreaterThan(0);
  });

  it("decrypts an encrypted image and hands the agent the same bytes, with its caption", async () => {
    const { alice } = world;
    const png = pngImage(30, 30);
    await alice.sendEncryptedFile(dm, { msgtype: "m.image", filename: "secret.png", mimetype: "image/png", bytes: png, caption: "keep this between us" });
    const told = await world.answerIn(dm, "received", "the answer to the image");
    expect(told).toMatchObject({ wireType: "m.room.encrypted", decryptionFailure: false });
    const [caption, image] = partsOf(agent.runs()[1]);
    expect(caption).toEqual({ type: "text", text: "keep this between us" });
    expect(image).toMatchObject({ type: "image", source: { type: "data", mimeType: "image/png" }, metadata: { filename: "secret.png" } });
    expect(Buffer.from(image?.source?.value ?? "", "base64").equals(png)).toBe(true);
    expect(world.botEventTypes(dm)).not.toContain("m.room.message");
  });
});
