// One end-to-end world: the homeserver double, the real bot (client or appservice mode, in-process), a person
// (Alice), and optionally an external reference agent with a custom brain reached over AGENT_URL.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import pino from "pino";
import { startHomeserver, type Homeserver, type HomeserverOptions } from "./homeserver";
import { MatrixTestUser } from "./matrix-test-user";
import { appserviceEnv, appserviceUrlOf, botEnv, InProcessBot, makeDataDir, removeDir, writeRegistration } from "./bot-harness";
import { MemoryAgentJournal, startReferenceAgent, type ReferenceAgent } from "../../src/reference-agent/server";
import { createEchoBrain, type AgentBrain } from "../../src/reference-agent/brain";
import type { AppOverrides } from "../../src/app";
import type { ClientEvent } from "./homeserver/types";
import { botMessagesIn, isIntroduction } from "./bot-messages";
import { assertNoSecrets, LogCapture } from "./log-capture";
import { botCaughtUp, expectSteady, waitForBotSettled, waitForBotWork, type BotInbound } from "./bot-idle";
import { waitFor } from "./wait";
import { freshStore, type BackendName, type TestStore } from "./backends";

export type Mode = "client" | "appservice";
export const MODES: Mode[] = ["client", "appservice"];

export interface ScenarioOptions {
  mode: Mode;
  env?: Record<string, string>;
  brain?: AgentBrain;
  /** Run the reference agent (echo unless `brain`) outside the bot, so tests can emit proactive runs. */
  externalAgent?: boolean;
  overrides?: Omit<AppOverrides, "logDestination" | "logPretty">;
  /** Options of the homeserver double (e.g. authenticatedMedia: false). */
  homeserver?: HomeserverOptions;
  /** The store backend (a fresh store of the test's own, STORE_URL); default sqlite in the data dir. */
  backend?: BackendName;
}

export class Scenario {
  bot!: InProcessBot;
  botUserId = "";
  /** The token the bot authenticates with: its access token, or the appservice's as_token. */
  botToken = "";
  /** How the bot receives room events from the double (its /sync, or the appservice's pushes). */
  botInbound!: BotInbound;
  alice!: MatrixTestUser;
  private env: Record<string, string> = {};
  private secrets: string[] = [];
  /** The external reference agent (when a brain was given), its token and its journal (kept across restarts). */
  agent: ReferenceAgent | undefined;
  agentToken = "";
  private agentBrain: AgentBrain | undefined;
  /** The external agent's journal of unacked agent-initiated frames (kept across restartAgent). */
  readonly agentJournal = new MemoryAgentJournal();
  /** The external agent's log lines (every start), checked for secrets at stop() like the bot's. */
  readonly agentLogs = new LogCapture();
  private overrides: Omit<AppOverrides, "logDestination" | "logPretty"> = {};
  /** The bot's store: its backend and STORE_URL (sqlite: DATA_DIR/bot.sqlite). */
  store!: TestStore;

  private constructor(readonly hs: Homeserver, readonly dataDir: string, readonly mode: Mode) {}

  static async start(opts: ScenarioOptions): Promise<Scenario> {
    const hs = await startHomeserver({ serverName: "localhost", ...opts.homeserver });
    const s = new Scenario(hs, makeDataDir(), opts.mode);
    s.store = await freshStore(opts.backend ?? "sqlite", s.dataDir);
    const extra: Record<string, string> = { STORE_URL: s.store.url, ...opts.env };
    s.overrides = opts.overrides ?? {};
    if (opts.brain || opts.externalAgent) {
      s.agentToken = randomBytes(16).toString("hex");
      s.agentBrain = opts.brain ?? createEchoBrain();
      s.agent = await s.startAgent(0);
      Object.assign(extra, { AGENT_URL: s.agent.url, AGENT_TOKEN: s.agentToken });
    }
    if (opts.mode === "client") {
      const account = hs.addUser("bot", { displayName: "Agent Bot" });
      s.botUserId = account.userId;
      s.botToken = account.accessToken;
      s.botInbound = { syncUserId: account.userId };
      s.env = botEnv({ homeserverUrl: hs.url, accessToken: account.accessToken, dataDir: s.dataDir, extra });
    } else {
      // The bot listens where the OS says (port 0) at each start; startBot moves the registration there.
      const reg = writeRegistration(s.dataDir, { port: 0 });
      const appservice = hs.addAppservice(parse(readFileSync(reg.path, "utf8")));
      s.botUserId = appservice.senderUserId;
      s.botInbound = { appserviceId: appservice.id };
      hs.setDisplayName(s.botUserId, "Agent Bot");
      s.env = appserviceEnv({ homeserverUrl: hs.url, registrationPath: reg.path, dataDir: s.dataDir, extra });
      s.secrets = [reg.asToken, reg.hsToken];
      s.botToken = reg.asToken;
    }
    s.alice = s.person("alice", "Alice");
    await s.startBot();
    return s;
  }

  /** Stops the external agent and starts a new one on the same port, with the same token and journal. */
  async restartAgent(between?: () => Promise<void>): Promise<ReferenceAgent> {
    const port = this.agent?.port;
    if (port === undefined) throw new Error("this scenario has no external agent");
    await this.agent?.close();
    this.agent = undefined;
    await between?.();
    this.agent = await this.startAgent(port);
    return this.agent;
  }

  private startAgent(port: number): Promise<ReferenceAgent> {
    const brain = this.agentBrain;
    if (!brain) throw new Error("this scenario has no agent brain");
    return startReferenceAgent({ host: "127.0.0.1", port, token: this.agentToken, logger: pino({ level: "debug" }, this.agentLogs),
      mode: { kind: "custom", brain }, journal: this.agentJournal });
  }

  person(localpart: string, displayName: string): MatrixTestUser {
    return new MatrixTestUser(this.hs.url, this.hs.addUser(localpart, { displayName }));
  }

  async startBot(): Promise<void> {
    this.bot = await new InProcessBot(this.env, this.secrets, this.overrides).start();
    if ("appserviceId" in this.botInbound) this.hs.moveAppservice(this.botInbound.appserviceId, appserviceUrlOf(this.bot));
  }

  /** The environment the bot runs with (for a child-process bot on the same world). */
  get botEnv(): Record<string, string> {
    return { ...this.env };
  }

  /** Changes the bot's environment for its next start. */
  setBotEnv(name: string, value: string): void {
    this.env[name] = value;
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

  /** Waits until the bot's one-time introduction is in the room (setup complete, nothing else in flight). */
  async waitIntroduced(roomId: string): Promise<void> {
    await this.hs.waitFor(() => this.hs.sent({ roomId, sender: this.botUserId, type: "m.room.message" }).some(isIntroduction),
      { what: `the bot's introduction in ${roomId}` });
  }

  async openDm(person: MatrixTestUser = this.alice): Promise<string> {
    const { room_id: roomId } = await person.createRoom({ is_direct: true, invite: [this.botUserId], preset: "trusted_private_chat" });
    await this.waitJoined(roomId);
    await this.waitIntroduced(roomId);
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
    await this.waitIntroduced(roomId);
    return roomId;
  }

  /** The bot's room messages in a room as a person reads them (test/support/bot-messages.ts): oldest first, edits
   *  applied, without its one-time introduction (not an answer), live ones once written. */
  botMessages(roomId: string): ClientEvent[] {
    return botMessagesIn(this.hs, roomId, this.botUserId);
  }

  /** The bot's m.room.message events in a room as the homeserver stored them, edits included (no introduction). */
  botEvents(roomId: string): ClientEvent[] {
    return this.hs.sent({ roomId, sender: this.botUserId, type: "m.room.message" }).filter((e) => !isIntroduction(e));
  }

  async waitBotEvents(roomId: string, count: number, what = `${count} bot event(s)`): Promise<ClientEvent[]> {
    return this.hs.waitFor(() => {
      const events = this.botEvents(roomId);
      return events.length >= count ? events : undefined;
    }, { what, timeoutMs: 10_000 });
  }

  async waitBotMessages(roomId: string, count: number, what = `${count} bot message(s)`): Promise<ClientEvent[]> {
    return this.hs.waitFor(() => {
      const msgs = this.botMessages(roomId);
      return msgs.length >= count ? msgs : undefined;
    }, { what });
  }

  /**
   * Waits until the bot has been handed everything the homeserver holds and reports itself idle in /metrics:
   * whatever it was going to do about the events so far is done (a message that should NOT come had its chance).
   */
  async settled(): Promise<void> {
    await waitForBotSettled(this.hs, this.botInbound, this.bot.app);
  }

  /**
   * Lets time pass. Only for the fault suite (test/faults), where the passing time is the point (a run-start
   * timeout); unit and end-to-end tests wait on settled() / expectSteady(), never on the clock.
   */
  async quiet(ms = 400): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
  }

  /** "Exactly once" / "never": after the bot settled, `check`; after a short extra window and settling again, `check` again. */
  async expectSteady(check: () => void | Promise<void>, opts: { windowMs?: number } = {}): Promise<void> {
    await expectSteady(() => this.settled(), check, opts);
  }

  /**
   * Waits until the bot was handed every event so far and routed them (they are answered, queued for a turn or
   * running one), and its work counts satisfy `ready` (default: anything).
   */
  async routed(ready: (work: Record<string, number>) => boolean = () => true): Promise<void> {
    await waitFor(() => botCaughtUp(this.hs, this.botInbound), { what: "the bot caught up with the homeserver" });
    await waitForBotWork(this.bot.app, (work) => work["router"] === 0 && ready(work));
  }

  async stop(): Promise<void> {
    try {
      await this.bot?.stop();
    } finally {
      await this.agent?.close();
      await this.hs.close();
      removeDir(this.dataDir);
      await this.store.drop();
    }
    assertNoSecrets(this.agentLogs.raw, this.secretValues);
  }

  /** Every secret of this world: the agent's token, the bot's token, the appservice's as_token and hs_token. */
  get secretValues(): string[] {
    return [this.agentToken, this.botToken, ...this.secrets].filter((v) => v !== "");
  }
}
