// An encrypted DM between a real matrix-js-sdk client (Rust crypto, a child process) and the built bot in client mode
// with MATRIX_E2EE=true, on the homeserver double: the set-up and teardown the e2ee end-to-end tests share.
import { randomBytes } from "node:crypto";
import { waitForBotSettled } from "./bot-idle";
import { botEnv, ChildBot, makeDataDir, removeDir } from "./bot-harness";
import { startHomeserver, type Homeserver } from "./homeserver";
import { JsSdkPeer } from "./js-sdk-peer";
import { closeScriptedAgents } from "./scripted-agent";

/** The agent the bot talks to, made once the homeserver and the bot's user exist. */
export type AgentFor = (hs: Homeserver, botUserId: string) => Promise<{ url: string }>;

export class EncryptedDm {
  private hsOrNone: Homeserver | undefined;
  private dataDir: string | undefined;
  private botOrNone: ChildBot | undefined;
  private aliceOrNone: JsSdkPeer | undefined;
  private ids: { botUserId: string; room: string } | undefined;

  /**
   * The double, the agent, the bot (its extra env on top of the E2EE settings), Alice's client, and the encrypted DM
   * she opens with the bot once it has joined. What started is stopped by `stop()`, even after a failed start.
   */
  async start(agentFor: AgentFor, env: Record<string, string> = {}): Promise<this> {
    const hs = this.hsOrNone = await startHomeserver({ serverName: "localhost" });
    const dataDir = this.dataDir = makeDataDir();
    const account = hs.addUser("bot", { displayName: "Agent Bot" });
    const agent = await agentFor(hs, account.userId);
    const bot = this.botOrNone = new ChildBot(botEnv({ homeserverUrl: hs.url, accessToken: account.accessToken, dataDir,
      extra: { MATRIX_E2EE: "true", CRYPTO_PASSPHRASE: `pp-${randomBytes(12).toString("hex")}`, AGENT_URL: agent.url, ...env } }));
    const alice = this.aliceOrNone = new JsSdkPeer({ hsUrl: hs.url, ...hs.addUser("alice", { displayName: "Alice" }) });
    await alice.start();
    await bot.ready(20_000);
    const room = await alice.createEncryptedRoom({ invite: [account.userId], isDirect: true });
    await alice.waitMember(room, account.userId, "join");
    this.ids = { botUserId: account.userId, room };
    return this;
  }

  get hs(): Homeserver {
    return started(this.hsOrNone);
  }

  get bot(): ChildBot {
    return started(this.botOrNone);
  }

  get alice(): JsSdkPeer {
    return started(this.aliceOrNone);
  }

  get botUserId(): string {
    return started(this.ids).botUserId;
  }

  /** The encrypted DM's room id. */
  get room(): string {
    return started(this.ids).room;
  }

  /** The bot was handed every event the double holds and is idle (for "never" and "exactly once" checks). */
  settled(): Promise<void> {
    return waitForBotSettled(this.hs, { syncUserId: this.botUserId }, this.bot);
  }

  async stop(): Promise<void> {
    await this.aliceOrNone?.stop();
    await this.botOrNone?.stop();
    await closeScriptedAgents();
    await this.hsOrNone?.close();
    if (this.dataDir !== undefined) removeDir(this.dataDir);
  }
}

function started<T>(value: T | undefined): T {
  if (value === undefined) throw new Error("the encrypted DM is not started");
  return value;
}
