// End-to-end encryption in appservice mode, as a person with a real encrypting client sees it: matrix-js-sdk 34 with
// its Rust crypto (a child process, test/support/js-sdk-peer) and the built bot (a child process, MATRIX_E2EE=true,
// appservice mode) against the homeserver double, which pushes the bot's room keys in transactions. Asserted on what
// the homeserver stored (the bot never puts plaintext into an encrypted room), on what the person's client decrypts,
// and on the transactions the double recorded. The tests of each describe run in order on one world.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import pino from "pino";
import { parse } from "yaml";
import { startHomeserver, type AppserviceE2eeOptions, type Homeserver, type TransactionRecord } from "../support/homeserver";
import { appserviceEnv, ChildBot, freePort, makeDataDir, removeDir, writeRegistration } from "../support/bot-harness";
import { JsSdkPeer, type PeerMessage } from "../support/js-sdk-peer";
import { MatrixTestUser } from "../support/matrix-test-user";
import { MemoryAgentJournal, echoReplyFor, startReferenceAgent, type ReferenceAgent } from "../../src/reference-agent/server";
import { createEchoBrain } from "../../src/reference-agent/brain";
import { UNDECRYPTABLE_NOTICE } from "../../src/matrix/crypto";
import { INTRO_MARKER } from "../../src/rooms/lifecycle/records";

jest.setTimeout(120_000);

const ENCRYPTION_FLAGS = { "de.sorunome.msc2409.push_ephemeral": true, receive_ephemeral: true, "org.matrix.msc3202": true };
const WAIT_MS = 60_000; // generous: a loaded machine runs two node processes with WASM crypto per side

/** The homeserver double, the reference agent, Alice's js-sdk client and the bot in appservice mode with encryption. */
class EncryptedAppserviceWorld {
  hs!: Homeserver;
  agent!: ReferenceAgent;
  alice!: JsSdkPeer;
  aliceHttp!: MatrixTestUser;
  botUserId = "";
  env: Record<string, string> = {};
  readonly bots: ChildBot[] = [];
  readonly passphrase = `pp-${randomBytes(12).toString("hex")}`;
  private readonly dataDir = makeDataDir();

  async start(e2ee: AppserviceE2eeOptions): Promise<void> {
    this.hs = await startHomeserver({ serverName: "localhost", appserviceE2ee: e2ee });
    const token = randomBytes(16).toString("hex");
    this.agent = await startReferenceAgent({ host: "127.0.0.1", port: 0, token, logger: pino({ level: "silent" }),
      mode: { kind: "custom", brain: createEchoBrain() }, journal: new MemoryAgentJournal() });
    const port = await freePort();
    const reg = writeRegistration(this.dataDir, { port, flags: ENCRYPTION_FLAGS });
    this.botUserId = this.hs.addAppservice(parse(readFileSync(reg.path, "utf8"))).senderUserId;
    this.env = appserviceEnv({ homeserverUrl: this.hs.url, registrationPath: reg.path, port, dataDir: this.dataDir,
      extra: { MATRIX_E2EE: "true", CRYPTO_PASSPHRASE: this.passphrase, AGENT_URL: this.agent.url, AGENT_TOKEN: token,
        LOG_REPEAT_WINDOW_MS: "0", BOT_DISPLAY_NAME: "Agent Bot" } });
    const aliceCreds = this.hs.addUser("alice", { displayName: "Alice" });
    this.aliceHttp = new MatrixTestUser(this.hs.url, aliceCreds);
    this.alice = new JsSdkPeer({ hsUrl: this.hs.url, ...aliceCreds });
    await this.alice.start();
  }

  async startBot(extra: Record<string, string> = {}, wait = true): Promise<ChildBot> {
    const bot = new ChildBot({ ...this.env, ...extra });
    this.bots.push(bot);
    return wait ? bot.ready(WAIT_MS) : bot;
  }

  get bot(): ChildBot {
    const bot = this.bots.at(-1);
    if (!bot) throw new Error("no bot started");
    return bot;
  }

  async stop(): Promise<void> {
    await this.alice?.stop();
    // ChildBot.stop checks the bot's output for its secrets (CRYPTO_PASSPHRASE among them) and unhandled rejections.
    for (const b of this.bots.splice(0)) await b.stop();
    await this.agent?.close();
    await this.hs?.close();
    removeDir(this.dataDir);
  }

  /** The bot's messages as Alice's client shows them, without its one-time introduction. */
  fromBot(messages: PeerMessage[]): PeerMessage[] {
    return messages.filter((m) => m.sender === this.botUserId && m.content[INTRO_MARKER] !== true);
  }

  answerIn(roomId: string, text: string, what: string): Promise<PeerMessage> {
    return this.alice.waitMessages(roomId, (ms) => this.fromBot(ms).find((m) => m.content["body"] === text), what, WAIT_MS);
  }

  /** Every event type the bot put into a room, as the homeserver stored it. */
  botEventTypes(roomId: string): string[] {
    return this.hs.sent({ roomId, sender: this.botUserId }).map((e) => e.type);
  }

  /** The bot's device keys as anyone gets them (keys/query). */
  async botDeviceKeys(): Promise<Record<string, unknown>> {
    const res = await this.aliceHttp.call<{ device_keys: Record<string, Record<string, unknown>> }>("POST", "keys/query",
      { body: { device_keys: { [this.botUserId]: [] } } });
    return res.device_keys[this.botUserId] ?? {};
  }

  /** Transactions answered 200 that brought the bot an Olm-encrypted to-device message from Alice. */
  acknowledgedKeyTransactions(toDeviceField: string): TransactionRecord[] {
    return this.hs.transactions.filter((t) => t.status === 200 && Array.isArray(t.extras?.[toDeviceField]) &&
      (t.extras[toDeviceField] as Array<{ type?: unknown; sender?: unknown }>).some((m) => m.type === "m.room.encrypted" && m.sender === this.alice.userId));
  }
}

describe("appservice mode, encrypted, Synapse 1.67's transaction fields and m.login.application_service", () => {
  const world = new EncryptedAppserviceWorld();
  let dm: string;

  beforeAll(async () => {
    await world.start({ fields: "synapse-1.67" });
    await world.startBot();
  });
  afterAll(() => world.stop());

  it("answers an encrypted DM encrypted, with a device made by appservice login and used by masquerading", async () => {
    const { alice, hs, botUserId } = world;
    dm = await alice.createEncryptedRoom({ invite: [botUserId], isDirect: true });
    await alice.waitMember(dm, botUserId, "join", WAIT_MS);
    await alice.send(dm, "hello in secret");
    const answer = await world.answerIn(dm, echoReplyFor("hello in secret"), "the decrypted answer");
    expect(answer).toMatchObject({ wireType: "m.room.encrypted", encrypted: true, decryptionFailure: false });
    expect(world.botEventTypes(dm)).not.toContain("m.room.message"); // its introduction was encrypted too
    // One device, made by m.login.application_service, its keys uploaded through the as_token acting as it.
    const devices = Object.keys(await world.botDeviceKeys());
    expect(devices).toHaveLength(1);
    expect(hs.requests.filter((r) => r.path === "/_matrix/client/v3/login" && r.status === 200)).toHaveLength(1);
    expect(hs.requests.some((r) => r.path.endsWith("/keys/upload") && r.query["org.matrix.msc3202.device_id"]?.[0] === devices[0])).toBe(true);
    // The room key came in a transaction, under Synapse 1.67's name.
    expect(world.acknowledgedKeyTransactions("de.sorunome.msc2409.to_device").length).toBeGreaterThan(0);
  });

  it("delivers a proactive message into an opted-in encrypted room encrypted", async () => {
    const { alice, agent } = world;
    await alice.send(dm, "!proactive on");
    await alice.waitMessages(dm, (ms) => world.fromBot(ms).length >= 2, "the opt-in confirmation", WAIT_MS);
    await agent.emitProactive("*", "Encrypted digest: all quiet.");
    const digest = await world.answerIn(dm, "Encrypted digest: all quiet.", "the proactive message, decrypted");
    expect(digest).toMatchObject({ wireType: "m.room.encrypted", decryptionFailure: false });
    expect(world.botEventTypes(dm)).not.toContain("m.room.message");
  });

  it("keeps a room key it acknowledged: SIGKILLed right after the 200, it still answers the next message", async () => {
    const { alice, botUserId } = world;
    await world.bot.stop();
    const keysBefore = await world.botDeviceKeys();
    const crashing = await world.startBot({ MAB_TEST_CRASH_AT: "room-key-acknowledged" });
    const acknowledgedBefore = world.acknowledgedKeyTransactions("de.sorunome.msc2409.to_device").length;
    // A new room: Alice's client makes a new room key and sends it to the bot's device.
    const room = await alice.createEncryptedRoom({ invite: [botUserId] });
    await alice.waitMember(room, botUserId, "join", WAIT_MS);
    await alice.send(room, "first secret");
    expect(await crashing.exited).toEqual({ code: null, signal: "SIGKILL" });
    // The transaction that carried the key was answered 200 before the kill: the homeserver will not send it again.
    expect(world.acknowledgedKeyTransactions("de.sorunome.msc2409.to_device").length).toBeGreaterThan(acknowledgedBefore);

    await world.startBot();
    await alice.send(room, "second secret"); // same room key (Alice's session does not rotate)
    await world.answerIn(room, echoReplyFor("first secret"), "the answer to the message of the crash");
    const answer = await world.answerIn(room, echoReplyFor("second secret"), "the answer after the restart");
    expect(answer).toMatchObject({ wireType: "m.room.encrypted", decryptionFailure: false });
    expect(world.fromBot(await alice.messages(room)).filter((m) => m.content["body"] === echoReplyFor("first secret"))).toHaveLength(1);
    expect(await world.botDeviceKeys()).toEqual(keysBefore); // the same device and identity key
    expect(world.botEventTypes(room)).not.toContain("m.room.message");
  });

  it("posts one notice, encrypted, for messages it cannot decrypt, and reads the room again once it gets keys", async () => {
    const { alice, botUserId } = world;
    await alice.onlyVerifiedDevices(true); // the bot's device is not verified: Alice's client withholds its room keys
    const room = await alice.createEncryptedRoom({ invite: [botUserId] });
    await alice.waitMember(room, botUserId, "join", WAIT_MS);
    await alice.send(room, "withheld one");
    await alice.send(room, "withheld two");
    const notice = await world.answerIn(room, UNDECRYPTABLE_NOTICE, "the notice");
    expect(notice).toMatchObject({ wireType: "m.room.encrypted", decryptionFailure: false });
    await world.hs.waitFor(() => world.bot.logs.lines().filter((l) => l.msg === "crypto: decrypt failed").length >= 2,
      { what: "both failures seen", timeoutMs: WAIT_MS });
    await alice.onlyVerifiedDevices(false);
    await alice.send(room, "shared three");
    await world.answerIn(room, echoReplyFor("shared three"), "the answer once the bot has the key");
    expect(world.fromBot(await alice.messages(room)).filter((m) => m.content["body"] === UNDECRYPTABLE_NOTICE)).toHaveLength(1);
    expect(world.botEventTypes(room)).not.toContain("m.room.message");
  });
});

describe("appservice mode, encrypted, stable transaction fields and an MSC4190 device (no appservice login, as under MAS)", () => {
  const world = new EncryptedAppserviceWorld();

  beforeAll(async () => {
    await world.start({ fields: "stable", deviceManagement: true, login: false });
    await world.startBot();
  });
  afterAll(() => world.stop());

  it("makes its device with PUT /devices, answers an encrypted DM and keeps answering after a restart", async () => {
    const { alice, hs, botUserId } = world;
    const devices = Object.keys(await world.botDeviceKeys());
    expect(devices).toHaveLength(1);
    expect(hs.requests.filter((r) => r.method === "PUT" && r.path === `/_matrix/client/v3/devices/${devices[0]}` && r.status === 201)).toHaveLength(1);
    expect(hs.requests.filter((r) => r.path === "/_matrix/client/v3/login")).toEqual([]);
    const dm = await alice.createEncryptedRoom({ invite: [botUserId], isDirect: true });
    await alice.waitMember(dm, botUserId, "join", WAIT_MS);
    await alice.send(dm, "stable hello");
    await world.answerIn(dm, echoReplyFor("stable hello"), "the decrypted answer");
    expect(world.acknowledgedKeyTransactions("to_device").length).toBeGreaterThan(0);

    await world.bot.stop();
    await world.startBot();
    await alice.send(dm, "stable again");
    const answer = await world.answerIn(dm, echoReplyFor("stable again"), "the answer after the restart");
    expect(answer).toMatchObject({ wireType: "m.room.encrypted", decryptionFailure: false });
    expect(Object.keys(await world.botDeviceKeys())).toEqual(devices);
    expect(world.botEventTypes(dm)).not.toContain("m.room.message");
  });
});
