// One mode's world on this run's Synapse: the scenario agent, the built bot in `mode`, Alice on matrix-js-sdk (the
// client people use through Element) and Bob, a second person for group rooms (plain HTTP: he only joins).
import { MatrixTestUser } from "../../support/matrix-test-user";
import { JsSdkPeer, type PeerMessage } from "../../support/js-sdk-peer";
import { INTRO_MARKER } from "../../../src/rooms/lifecycle/records";
import { foldEdits } from "../../support/bot-messages";
import { BOT_DISPLAY_NAME, BotUnderTest, botEnvFor, type Mode } from "./bot";
import { ScenarioAgent } from "./brain";
import { botLogDir, synapseRun, type ExtraAppservice, type SynapseRun } from "./run";

export interface PersonOnSynapse {
  peer: JsSdkPeer;
  http: MatrixTestUser;
}

/** Alice (or anyone) on matrix-js-sdk with a new device; `crypto` turns on its Rust crypto. */
export async function signInPerson(run: SynapseRun, name: "alice" | "bob", opts: { crypto?: boolean } = {}): Promise<PersonOnSynapse> {
  const http = await MatrixTestUser.login(run.url, name, run.users[name].password);
  const peer = new JsSdkPeer({ hsUrl: run.url, userId: http.userId, accessToken: http.accessToken, deviceId: http.deviceId },
    { crypto: opts.crypto ?? false, pollTimeout: 5000, timelineLimit: 100 });
  await peer.start();
  return { peer, http };
}

export const isIntroduction = (m: PeerMessage): boolean => m.content[INTRO_MARKER] === true;

/** Whether the homeserver redacted the message: Synapse serves a redacted m.room.message with its content emptied. */
export const isRedacted = (m: PeerMessage): boolean => m.type === "m.room.message" && Object.keys(m.originalContent).length === 0;

/** The thread root a message is in (its m.thread relation), or undefined in the main timeline. */
export function threadOf(content: Record<string, unknown>): string | undefined {
  const relation = content["m.relates_to"] as { rel_type?: unknown; event_id?: unknown } | undefined;
  return relation?.rel_type === "m.thread" && typeof relation.event_id === "string" ? relation.event_id : undefined;
}

/** A message of the bot as a person reads it: once, with its latest edit applied. */
export interface ReadMessage {
  eventId: string;
  body: string;
  /** The content after its latest edit (the first event's relation kept). */
  content: Record<string, unknown>;
  /** Still being written (MSC4357 live marker on its latest content). */
  live: boolean;
}

/**
 * The messages `sender` wrote among `messages` (a client's timeline or the room's history), its introduction left
 * out: each message once, with its edits (live answers are written by edits) folded in as clients show them.
 */
export function messagesBy(messages: PeerMessage[], sender: string): ReadMessage[] {
  const written = messages.filter((m) => m.sender === sender && m.type === "m.room.message")
    .map((m) => ({ event_id: m.eventId, sender: m.sender, content: m.originalContent }));
  return foldEdits(written).filter((m) => m.content[INTRO_MARKER] !== true)
    .map((m) => ({ eventId: m.event_id, body: String(m.content["body"]), content: m.content, live: m.live }));
}

/** A world other than a mode's scenarios': its client-mode account, its agent, variables of its own, its logs' label. */
export interface WorldOptions {
  account?: "clientbot" | "threadbot" | "agentsbot" | "promptbot";
  agent?: ScenarioAgent;
  env?: Record<string, string>;
  label?: string;
  /** Appservice mode: a registration other than the bot's own (run.e2eeAppservice, run.promptAppservice). */
  appservice?: ExtraAppservice;
}

export class ModeWorld {
  readonly run = synapseRun();
  readonly agent: ScenarioAgent;
  readonly botUserId: string;
  readonly bot: BotUnderTest;
  alice!: PersonOnSynapse;
  bob!: MatrixTestUser;
  /** How many bot messages each room held when last looked at (newBotBodies). */
  private readonly settledCount = new Map<string, number>();

  private constructor(readonly mode: Mode, opts: WorldOptions) {
    this.agent = opts.agent ?? new ScenarioAgent();
    const account = mode === "client" ? this.run.users[opts.account ?? "clientbot"] : undefined;
    const as = mode === "appservice" ? opts.appservice : undefined;
    this.botUserId = account?.userId ?? as?.userId ?? this.run.appserviceUserId;
    const registration: Record<string, string> = as ? { MATRIX_REGISTRATION: as.registrationPath, APPSERVICE_BIND: `127.0.0.1:${as.asPort}` } : {};
    this.bot = new BotUnderTest((dataDir) => ({ ...botEnvFor(this.run, mode, dataDir, this.agent, account), ...registration, ...opts.env }), {
      secrets: mode === "appservice" ? [as?.asToken ?? this.run.asToken, as?.hsToken ?? this.run.hsToken] : [],
      logs: { dir: botLogDir(this.run), label: opts.label ?? mode },
    });
  }

  /** The agent, then the bot (its appservice listener up before any traffic for it), then the people. */
  static async open(mode: Mode, opts: WorldOptions = {}): Promise<ModeWorld> {
    const world = new ModeWorld(mode, opts);
    await world.agent.start();
    await world.bot.start();
    world.alice = await signInPerson(world.run, "alice");
    world.bob = await MatrixTestUser.login(world.run.url, "bob", world.run.users.bob.password);
    return world;
  }

  async close(): Promise<void> {
    try {
      await this.alice?.peer.stop();
      await this.bot.stop();
    } finally {
      await this.agent.close();
    }
  }

  get aliceId(): string {
    return this.alice.peer.userId;
  }

  /** A direct chat Alice opens with the bot, once the bot joined and introduced itself. */
  async openDm(): Promise<string> {
    const roomId = await this.alice.peer.createRoom({ is_direct: true, invite: [this.botUserId], preset: "trusted_private_chat" });
    await this.waitIntroduced(roomId);
    return roomId;
  }

  /** A group room of Alice and Bob with the bot invited, once the bot joined and introduced itself. */
  async openGroup(name = "Group"): Promise<string> {
    const roomId = await this.alice.peer.createRoom({ preset: "private_chat", name, invite: [this.bob.userId] });
    await this.bob.join(roomId);
    await this.alice.peer.waitMember(roomId, this.bob.userId, "join", 30_000);
    await this.alice.peer.invite(roomId, this.botUserId);
    await this.waitIntroduced(roomId);
    return roomId;
  }

  async waitIntroduced(roomId: string, timeoutMs = 30_000): Promise<void> {
    await this.alice.peer.waitMember(roomId, this.botUserId, "join", timeoutMs);
    await this.alice.peer.waitMessages(roomId, (ms) => ms.some((m) => m.sender === this.botUserId && isIntroduction(m)),
      `the bot's introduction in ${roomId}`, timeoutMs);
  }

  /** Alice's message that mentions the bot the way Element writes a pill. */
  mention(text: string): Record<string, unknown> {
    return {
      msgtype: "m.text", body: `${BOT_DISPLAY_NAME}: ${text}`, format: "org.matrix.custom.html",
      formatted_body: `<a href="https://matrix.to/#/${this.botUserId}">${BOT_DISPLAY_NAME}</a>: ${text}`,
      "m.mentions": { user_ids: [this.botUserId] },
    };
  }

  /** Waits until Alice's client shows a message from the bot that reads `body`, written to its end; returns it. */
  async waitAnswer(roomId: string, body: string, timeoutMs = 30_000): Promise<ReadMessage> {
    return this.alice.peer.waitMessages(roomId, (ms) => messagesBy(ms, this.botUserId).find((m) => m.body === body && !m.live),
      `"${body}" from the bot in ${roomId}`, timeoutMs);
  }

  /**
   * The bodies of the bot's messages in the room (its introduction left out, edits folded in), from the homeserver's
   * whole history, after the bot reports idle: what "exactly once" is checked on. None may still be live then.
   */
  async settledBotBodies(roomId: string): Promise<string[]> {
    const bodies = (await this.settledBotMessages(roomId)).map((m) => m.body);
    this.settledCount.set(roomId, bodies.length);
    return bodies;
  }

  /** The bot's messages behind settledBotBodies; redacted ones (and their edits) are gone, as a client shows them. */
  async settledBotMessages(roomId: string): Promise<ReadMessage[]> {
    await this.bot.waitForIdle();
    const all = await this.alice.peer.history(roomId);
    const redacted = new Set(all.filter(isRedacted).map((m) => m.eventId));
    const history = all.filter((m) => !redacted.has(m.eventId));
    const messages = messagesBy(history, this.botUserId);
    const live = messages.filter((m) => m.live);
    if (live.length > 0) {
      const events = history.filter((m) => m.sender === this.botUserId && m.type === "m.room.message").map((m) => ({ eventId: m.eventId,
        replaces: (m.originalContent["m.relates_to"] as { rel_type?: string; event_id?: string } | undefined)?.event_id, content: m.originalContent }));
      throw new Error(`the bot is idle, yet messages in ${roomId} are still live: ${JSON.stringify(live)}; the bot's events there: ${JSON.stringify(events)}`);
    }
    return messages;
  }

  /** Like settledBotBodies, but only what the bot posted there since the last look: each scenario checks all of it. */
  async newBotBodies(roomId: string): Promise<string[]> {
    const before = this.settledCount.get(roomId) ?? 0;
    return (await this.settledBotBodies(roomId)).slice(before);
  }
}
