// Encryption in appservice mode on Synapse 1.67 (issue 27): the bot's device made by m.login.application_service and
// used through MSC3202 masquerading, its room keys pushed in transactions (MSC2409 to-device, MSC3202 extensions, the
// experimental features ../shared/synapse turns on). Alice on matrix-js-sdk with its Rust crypto. The appservice is
// the run's second registration (`npm run register -- --localpart cryptoagent`): its own listener and Synapse backoff.
// What Synapse holds is checked on its own history, what Alice reads on her client's decryption; "exactly once" after
// the bot reports idle. The SIGKILL comes last: Synapse backs off from the appservice afterwards (2 s, 4 s, …).
// test/e2e/e2ee-appservice*.test.ts prove more against the double; this proves it on Synapse.
import { randomBytes } from "node:crypto";
import { echoReply } from "../../src/reference-agent/brain";
import type { PeerMessage } from "../support/js-sdk-peer";
import { BotUnderTest, botEnvFor } from "./support/bot";
import { ScenarioAgent, STREAM_FIRST, STREAM_TEXT } from "./support/brain";
import { botLogDir, synapseRun } from "./support/run";
import { requestsServed } from "./support/synapse";
import { messagesBy, signInPerson, type PersonOnSynapse } from "./support/world";

const WAIT_MS = 45_000;
const OPTED_IN = "Proactive messages are now on in this room.";

describe("encryption in appservice mode on Synapse (MSC2409/MSC3202, Rust crypto on Alice's client)", () => {
  const run = synapseRun();
  const as = run.e2eeAppservice;
  const passphrase = `pp-${randomBytes(12).toString("hex")}`;
  const agent = new ScenarioAgent();
  const botUserId = as.userId;
  const bot = new BotUnderTest((dataDir) => ({
    ...botEnvFor(run, "appservice", dataDir, agent), MATRIX_REGISTRATION: as.registrationPath, APPSERVICE_BIND: `127.0.0.1:${as.asPort}`,
    MATRIX_E2EE: "true", CRYPTO_PASSPHRASE: passphrase,
  }), { secrets: [as.asToken, as.hsToken], logs: { dir: botLogDir(run), label: "e2ee-appservice" } });
  let alice: PersonOnSynapse;
  let dm = "";
  let group = "";
  const seenCount = new Map<string, number>();

  /** The bot's events in a room as Synapse serves them (type only: ciphertext), after the bot reports idle. */
  const wireTypes = async (roomId: string): Promise<string[]> => {
    await bot.waitForIdle();
    const { chunk } = await alice.http.messages(roomId, { limit: 1000 });
    return (chunk as Array<{ sender: string; type: string; state_key?: string }>)
      .filter((e) => e.sender === botUserId && e.state_key === undefined).map((e) => e.type);
  };
  /** What the bot wrote in the room since the last look, as Alice's client decrypts it (edits folded), once idle. */
  const newBodies = async (roomId: string): Promise<string[]> => {
    await bot.waitForIdle();
    const history = await alice.peer.history(roomId);
    const undecrypted = history.filter((m) => m.sender === botUserId && (m.decryptionFailure || !m.encrypted));
    expect(undecrypted).toEqual([]);
    const messages = messagesBy(history, botUserId);
    expect(messages.filter((m) => m.live)).toEqual([]);
    const before = seenCount.get(roomId) ?? 0;
    seenCount.set(roomId, messages.length);
    return messages.slice(before).map((m) => m.body);
  };
  const answerIn = (roomId: string, body: string): Promise<PeerMessage> =>
    alice.peer.waitMessages(roomId, (ms) => {
      const answer = messagesBy(ms, botUserId).find((m) => m.body === body && !m.live);
      return answer && ms.find((m) => m.eventId === answer.eventId);
    }, `"${body}" from the bot in ${roomId}, decrypted`, WAIT_MS);
  const encryptedRoomWithBot = async (opts: { isDirect?: boolean } = {}): Promise<string> => {
    const room = await alice.peer.createEncryptedRoom({ invite: [botUserId], ...opts });
    await alice.peer.waitMember(room, botUserId, "join", WAIT_MS);
    return room;
  };
  const botDevices = async (): Promise<Record<string, unknown>> =>
    (await alice.http.call<{ device_keys: Record<string, Record<string, unknown>> }>("POST", "keys/query",
      { body: { device_keys: { [botUserId]: [] } } })).device_keys[botUserId] ?? {};

  beforeAll(async () => {
    await agent.start();
    await bot.start(); // its appservice listener up before any traffic for it
    alice = await signInPerson(run, "alice", { crypto: true });
  });
  afterAll(async () => {
    await alice?.peer.stop();
    await bot.stop(); // checks every process's output for the tokens and CRYPTO_PASSPHRASE
    await agent.close();
  });

  it("makes its device with m.login.application_service: keys/query shows exactly that one device", async () => {
    const created = await bot.child.logs.waitFor((l) => l.msg === "appservice device created for end-to-end encryption", "the device created");
    expect(created["how"]).toBe("m.login.application_service");
    const deviceId = String(created["deviceId"]);
    expect(Object.keys(await botDevices())).toEqual([deviceId]);
    // Its keys uploaded through the as_token acting as that device (MSC3202 masquerading), as Synapse's access log shows.
    const masquerading = `org.matrix.msc3202.device_id=${encodeURIComponent(deviceId)}`;
    expect(requestsServed(run).some((r) => r.startsWith("POST /_matrix/client/v3/keys/upload") && r.includes(masquerading))).toBe(true);
  });

  it("answers an encrypted DM encrypted: Alice's client decrypts it, Synapse holds only m.room.encrypted from the bot", async () => {
    dm = await encryptedRoomWithBot({ isDirect: true });
    await alice.peer.send(dm, "hello in secret");
    const answer = await answerIn(dm, echoReply("hello in secret"));
    expect(answer).toMatchObject({ wireType: "m.room.encrypted", encrypted: true, decryptionFailure: false });
    expect(await newBodies(dm)).toEqual([echoReply("hello in secret")]);
    const wire = await wireTypes(dm);
    expect(wire.length).toBeGreaterThanOrEqual(2); // the introduction and the answer
    expect(wire.filter((t) => t !== "m.room.encrypted")).toEqual([]);
  });

  it("streams a live answer encrypted: the live message and its edits decrypt, and it ends as one message", async () => {
    await alice.peer.send(dm, "stream:in secret");
    const live = await alice.peer.waitMessages(dm, (ms) => messagesBy(ms, botUserId).find((m) => m.live && m.body.startsWith(STREAM_FIRST.trim())),
      "the first part, live, decrypted", WAIT_MS);
    const deadline = Date.now() + WAIT_MS;
    while (!agent.waiting("stream:in secret")) {
      if (Date.now() > deadline) throw new Error("timed out waiting for the agent to hold the rest");
      await new Promise((r) => setTimeout(r, 25));
    }
    agent.release("stream:in secret");
    const done = await answerIn(dm, STREAM_TEXT);
    expect(done.eventId).toBe(live.eventId);
    expect(await newBodies(dm)).toEqual([STREAM_TEXT]);
    const edits = (await alice.peer.history(dm)).filter((m) =>
      (m.originalContent["m.relates_to"] as { event_id?: string } | undefined)?.event_id === live.eventId);
    expect(edits.length).toBeGreaterThan(0);
    expect(edits.every((m) => m.sender === botUserId && m.wireType === "m.room.encrypted" && !m.decryptionFailure)).toBe(true);
    expect((await wireTypes(dm)).filter((t) => t !== "m.room.encrypted")).toEqual([]);
  });

  it("fans a proactive result out into both opted-in encrypted rooms, encrypted, exactly once", async () => {
    group = await encryptedRoomWithBot();
    await alice.peer.send(dm, "/proactive on");
    await alice.peer.send(group, "/proactive on");
    await answerIn(dm, OPTED_IN);
    await answerIn(group, OPTED_IN);
    const digest = "Encrypted digest (appservice mode): all quiet.";
    await agent.emitProactive("*", digest);
    for (const room of [dm, group]) {
      expect(await answerIn(room, digest)).toMatchObject({ wireType: "m.room.encrypted", decryptionFailure: false });
    }
    expect(await newBodies(dm)).toEqual([OPTED_IN, digest]);
    expect(await newBodies(group)).toEqual([OPTED_IN, digest]);
    for (const room of [dm, group]) expect((await wireTypes(room)).filter((t) => t !== "m.room.encrypted")).toEqual([]);
  });

  it("keeps a room key it acknowledged: SIGKILLed right after the 200, it answers that message once and the next, same device", async () => {
    const devicesBefore = await botDevices();
    await bot.kill();
    await bot.start({ MAB_TEST_CRASH_AT: "room-key-acknowledged" });
    const room = await encryptedRoomWithBot(); // a new room: Alice's client makes a room key and sends it to the bot's device
    await alice.peer.send(room, "first secret");
    expect(await bot.exited()).toEqual({ code: null, signal: "SIGKILL" }); // right after answering the key's transaction 200
    await bot.start();
    await alice.peer.send(room, "second secret");
    await answerIn(room, echoReply("first secret"));
    await answerIn(room, echoReply("second secret"));
    expect(await newBodies(room)).toEqual([echoReply("first secret"), echoReply("second secret")]);
    expect((await wireTypes(room)).filter((t) => t !== "m.room.encrypted")).toEqual([]);
    expect(await botDevices()).toEqual(devicesBefore); // the same device and identity key
  });
});
