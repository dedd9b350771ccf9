// An encrypted DM on Synapse, client mode (MATRIX_E2EE=true): Alice on matrix-js-sdk with its Rust crypto. What the
// homeserver holds is checked on its own history (the bot never puts clear text into the room), what Alice reads on
// her client's decryption. test/e2e/e2ee.test.ts proves more against the double; this proves it on Synapse.
import { randomBytes } from "node:crypto";
import { echoReply } from "../../src/reference-agent/brain";
import type { PeerMessage } from "../support/js-sdk-peer";
import { megolmKeysUsed } from "../support/megolm";
import { BotUnderTest, botEnvFor } from "./support/bot";
import { ScenarioAgent } from "./support/brain";
import { botLogDir, synapseRun } from "./support/run";
import { messagesBy, signInPerson, type PersonOnSynapse } from "./support/world";

describe("an encrypted DM on Synapse (client mode, Rust crypto on Alice's client)", () => {
  const run = synapseRun();
  const passphrase = `pp-${randomBytes(12).toString("hex")}`;
  const agent = new ScenarioAgent();
  const botUserId = run.users.cryptobot.userId;
  const bot = new BotUnderTest((dataDir) => ({
    ...botEnvFor(run, "client", dataDir, agent, run.users.cryptobot), MATRIX_E2EE: "true", CRYPTO_PASSPHRASE: passphrase,
  }), { logs: { dir: botLogDir(run), label: "e2ee" } });
  let alice: PersonOnSynapse;
  let dm = "";

  /** The bot's events in the DM as Synapse serves them (ciphertext), and as Alice's client decrypts them. */
  const botEvents = async (): Promise<{ wire: Array<{ type: string; content: Record<string, unknown> }>; bodies: string[] }> => {
    await bot.waitForIdle();
    const { chunk } = await alice.http.messages(dm, { limit: 1000 });
    const wire = (chunk as Array<{ sender: string; type: string; state_key?: string; content: Record<string, unknown> }>)
      .filter((e) => e.sender === botUserId && e.state_key === undefined).reverse();
    const bodies = messagesBy(await alice.peer.history(dm), botUserId).map((m) => m.body);
    return { wire, bodies };
  };
  /** Waits until Alice's client shows (decrypted) this answer from the bot. */
  const answerFromBot = (body: string): Promise<PeerMessage | undefined> =>
    alice.peer.waitMessages(dm, (ms) => {
      const answer = messagesBy(ms, botUserId).find((m) => m.body === body && !m.live);
      return answer && ms.find((m) => m.eventId === answer.eventId);
    }, `"${body}", decrypted`, 30_000);
  const botDevices = async (): Promise<Record<string, unknown>> =>
    (await alice.http.call<{ device_keys: Record<string, Record<string, unknown>> }>("POST", "keys/query",
      { body: { device_keys: { [botUserId]: [] } } })).device_keys[botUserId] ?? {};

  beforeAll(async () => {
    await agent.start();
    await bot.start();
    alice = await signInPerson(run, "alice", { crypto: true });
  });
  afterAll(async () => {
    await alice?.peer.stop();
    await bot.stop(); // checks the output for the access token and CRYPTO_PASSPHRASE
    await agent.close();
  });

  it("answers an encrypted DM encrypted: Alice's client decrypts it, Synapse holds no clear text from the bot", async () => {
    dm = await alice.peer.createEncryptedRoom({ invite: [botUserId], isDirect: true });
    await alice.peer.waitMember(dm, botUserId, "join", 30_000);
    await alice.peer.send(dm, "hello in secret");
    const answer = await answerFromBot(echoReply("hello in secret"));
    expect(answer).toMatchObject({ wireType: "m.room.encrypted", encrypted: true, decryptionFailure: false });
    const { wire, bodies } = await botEvents();
    expect(wire.map((e) => e.type).filter((t) => t !== "m.room.encrypted")).toEqual([]); // its introduction too
    expect(bodies).toEqual([echoReply("hello in secret")]);
  });

  it("after a SIGKILL, goes on with the same device and identity key, and never reuses a Megolm key", async () => {
    const devicesBefore = await botDevices();
    expect(Object.keys(devicesBefore)).toHaveLength(1);
    await bot.kill(); // right after its last encrypted send: the crypto store's loss window at its worst
    await bot.start();
    await alice.peer.send(dm, "still there, in secret?");
    const answer = await answerFromBot(echoReply("still there, in secret?"));
    expect(answer).toMatchObject({ wireType: "m.room.encrypted", decryptionFailure: false });
    expect(await botDevices()).toEqual(devicesBefore);
    const { wire, bodies } = await botEvents();
    expect(bodies).toEqual([echoReply("hello in secret"), echoReply("still there, in secret?")]);
    const used = megolmKeysUsed(wire.map((e) => e.content));
    expect(new Set(used).size).toBe(used.length);
  });
});
