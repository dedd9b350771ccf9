// One end-to-end world: the homeserver double, the real bot (client or appservice mode, in-process), a person
// (Alice), and optionally an external reference agent with a custom brain reached over AGENT_URL.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import pino from "pino";
import { startHomeserver, type Homeserver } from "./homeserver";
import { MatrixTestUser } from "./matrix-test-user";
import { appserviceEnv, botEnv, freePort, InProcessBot, makeDataDir, removeDir, writeRegistration } from "./bot-harness";
import { startReferenceAgent } from "../../src/reference-agent/server";
import type { AgentBrain } from "../../src/reference-agent/brain";
import type { ClientEvent } from "./homeserver/types";

export type Mode = "client" | "appservice";
export const MODES: Mode[] = ["client", "appservice"];

export interface ScenarioOptions {
  mode: Mode;
  env?: Record<string, string>;
  brain?: AgentBrain;
}

export class Scenario {
  bot!: InProcessBot;
  botUserId = "";
  /** The token the bot authenticates with: its access token, or the appservice's as_token. */
  botToken = "";
  alice!: MatrixTestUser;
  private env: Record<string, string> = {};
  private secrets: string[] = [];
  private agent: Awaited<ReturnType<typeof startReferenceAgent>> | undefined;

  private constructor(readonly hs: Homeserver, readonly dataDir: string, readonly mode: Mode) {}

  static async start(opts: ScenarioOptions): Promise<Scenario> {
    const hs = await startHomeserver({ serverName: "localhost" });
    const s = new Scenario(hs, makeDataDir(), opts.mode);
    const extra: Record<string, string> = { ...opts.env };
    if (opts.brain) {
      const token = randomBytes(16).toString("hex");
      s.agent = await startReferenceAgent({ host: "127.0.0.1", port: 0, token, logger: pino({ level: "silent" }),
        mode: { kind: "custom", brain: opts.brain } });
      Object.assign(extra, { AGENT_URL: s.agent.url, AGENT_TOKEN: token });
    }
    if (opts.mode === "client") {
      const account = hs.addUser("bot", { displayName: "Agent Bot" });
      s.botUserId = account.userId;
      s.botToken = account.accessToken;
      s.env = botEnv({ homeserverUrl: hs.url, accessToken: account.accessToken, dataDir: s.dataDir, extra });
    } else {
      const port = await freePort();
      const reg = writeRegistration(s.dataDir, { port });
      s.botUserId = hs.addAppservice(parse(readFileSync(reg.path, "utf8"))).senderUserId;
      hs.setDisplayName(s.botUserId, "Agent Bot");
      s.env = appserviceEnv({ homeserverUrl: hs.url, registrationPath: reg.path, port, dataDir: s.dataDir, extra });
      s.secrets = [reg.asToken, reg.hsToken];
      s.botToken = reg.asToken;
    }
    s.alice = s.person("alice", "Alice");
    await s.startBot();
    return s;
  }

  person(localpart: string, displayName: string): MatrixTestUser {
    return new MatrixTestUser(this.hs.url, this.hs.addUser(localpart, { displayName }));
  }

  async startBot(): Promise<void> {
    this.bot = await new InProcessBot(this.env, this.secrets).start();
  }

  async stopBot(): Promise<void> {
    await this.bot.stop();
  }

  async restartBot(): Promise<void> {
    await this.stopBot();
    await this.startBot();
  }

  async waitJoined(roomId: string): Promise<void> {
    await this.hs.waitFor(() => this.hs.membership(roomId, this.botUserId) === "join", { what: `the bot joins ${roomId}` });
  }

  async openDm(person: MatrixTestUser = this.alice): Promise<string> {
    const { room_id: roomId } = await person.createRoom({ is_direct: true, invite: [this.botUserId], preset: "trusted_private_chat" });
    await this.waitJoined(roomId);
    return roomId;
  }

  /** A group room created by `creator`, with the others joined, then the bot invited. */
  async openGroup(creator: MatrixTestUser, others: MatrixTestUser[] = [], extra: Record<string, unknown> = {}): Promise<string> {
    const { room_id: roomId } = await creator.createRoom({ preset: "private_chat", name: "Group", ...extra });
    for (const other of others) {
      await creator.invite(roomId, other.userId);
      await other.join(roomId);
    }
    await creator.invite(roomId, this.botUserId);
    await this.waitJoined(roomId);
    return roomId;
  }

  /** The bot's room messages in a room, oldest first. */
  botMessages(roomId: string): ClientEvent[] {
    return this.hs.sent({ roomId, sender: this.botUserId, type: "m.room.message" });
  }

  async waitBotMessages(roomId: string, count: number, what = `${count} bot message(s)`): Promise<ClientEvent[]> {
    return this.hs.waitFor(() => {
      const msgs = this.botMessages(roomId);
      return msgs.length >= count ? msgs : undefined;
    }, { what, timeoutMs: 10_000 });
  }

  /** Lets in-flight work settle, so a message that should NOT come has had its chance to appear. */
  async quiet(ms = 400): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
  }

  async stop(): Promise<void> {
    try {
      await this.bot?.stop();
    } finally {
      await this.agent?.close();
      await this.hs.close();
      removeDir(this.dataDir);
    }
  }
}
