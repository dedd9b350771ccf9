// An encrypted appservice world for end-to-end tests: the homeserver double with encrypted-appservice support (it
// pushes to-device messages in transactions), an agent (the echo reference agent unless a test brings its own),
// Alice's real client (matrix-js-sdk 34 with Rust crypto, a child process) and the built bot in appservice mode with
// MATRIX_E2EE=true (a child process).
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import pino from "pino";
import { parse } from "yaml";
import { startHomeserver, type AppserviceE2eeOptions, type Homeserver, type TransactionRecord } from "./homeserver";
import { appserviceEnv, ChildBot, freePort, makeDataDir, removeDir, writeRegistration } from "./bot-harness";
import { JsSdkPeer, type PeerMessage } from "./js-sdk-peer";
import { MatrixTestUser } from "./matrix-test-user";
import { MemoryAgentJournal, startReferenceAgent, type ReferenceAgent } from "../../src/reference-agent/server";
import { createEchoBrain } from "../../src/reference-agent/brain";
import { INTRO_MARKER } from "../../src/rooms/lifecycle/records";

/** What `npm run register` writes for encryption (MSC2409 ephemeral pushes, MSC3202 transaction extensions). */
export const ENCRYPTION_FLAGS = { "de.sorunome.msc2409.push_ephemeral": true, receive_ephemeral: true, "org.matrix.msc3202": true };
/** Generous: a loaded machine runs two node processes with WASM crypto per side. */
export const WAIT_MS = 60_000;

export class EncryptedAppserviceWorld {
  hs!: Homeserver;
  /** The echo reference agent, when the test did not bring its own. */
  agent?: ReferenceAgent;
  alice!: JsSdkPeer;
  aliceHttp!: MatrixTestUser;
  botUserId = "";
  env: Record<string, string> = {};
  readonly bots: ChildBot[] = [];
  readonly passphrase = `pp-${randomBytes(12).toString("hex")}`;
  private readonly dataDir = makeDataDir();

  /** `agentUrl(hs, botUserId)`: the test's own agent (it may pace itself on the double); default the echo agent. */
  async start(e2ee: AppserviceE2eeOptions, agentUrl?: (hs: Homeserver, botUserId: string) => Promise<string>): Promise<void> {
    this.hs = await startHomeserver({ serverName: "localhost", appserviceE2ee: e2ee });
    const port = await freePort();
    const reg = writeRegistration(this.dataDir, { port, flags: ENCRYPTION_FLAGS });
    this.botUserId = this.hs.addAppservice(parse(readFileSync(reg.path, "utf8"))).senderUserId;
    let agent: Record<string, string>;
    if (agentUrl) agent = { AGENT_URL: await agentUrl(this.hs, this.botUserId) };
    else {
      const token = randomBytes(16).toString("hex");
      this.agent = await startReferenceAgent({ host: "127.0.0.1", port: 0, token, logger: pino({ level: "silent" }),
        mode: { kind: "custom", brain: createEchoBrain() }, journal: new MemoryAgentJournal() });
      agent = { AGENT_URL: this.agent.url, AGENT_TOKEN: token };
    }
    this.env = appserviceEnv({ homeserverUrl: this.hs.url, registrationPath: reg.path, port, dataDir: this.dataDir,
      extra: { MATRIX_E2EE: "true", CRYPTO_PASSPHRASE: this.passphrase, ...agent, LOG_REPEAT_WINDOW_MS: "0", BOT_DISPLAY_NAME: "Agent Bot" } });
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

  /** An encrypted room Alice made with the bot in it, joined. */
  async encryptedRoomWithBot(opts: { isDirect?: boolean } = {}): Promise<string> {
    const room = await this.alice.createEncryptedRoom({ invite: [this.botUserId], ...opts });
    await this.alice.waitMember(room, this.botUserId, "join", WAIT_MS);
    return room;
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
