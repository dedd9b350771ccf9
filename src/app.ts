// The composition root: wires every part from a Config. Tests start the real app through createApp; only
// src/main.ts touches `process`.
import { randomBytes } from "node:crypto";
import type { KeyvStoreAdapter } from "keyv";
import type { DestinationStream, Logger } from "pino";
import { AgentLink } from "./agent/link";
import type { Config } from "./config";
import { childLogger, createLogger } from "./log";
import { AppserviceServer, type AppserviceTxnRecord } from "./matrix/appservice-server";
import { userNamespaceRegexes } from "./matrix/appservice-protocol";
import { ClientSync } from "./matrix/client-sync";
import type { MatrixRequestError } from "./matrix/errors";
import { parseRoomEvent, type RoomEvent } from "./matrix/events";
import { createMatrixHttp, enc, type MatrixHttp } from "./matrix/http";
import { Journal } from "./matrix/journal";
import { RoomDirectory } from "./matrix/room-directory";
import { routeSdkLogsInto } from "./matrix/sdk";
import { MatrixSender, type RoomMessageSender } from "./matrix/sender";
import { Outbox } from "./outbox";
import { startReferenceAgent } from "./reference-agent/server";
import { EncryptedRoomNotice } from "./rooms/encrypted-notice";
import { InviteHandler } from "./rooms/invites";
import { encodeThreadKey } from "./rooms/thread-key";
import { matchesAnyUserGlob, ownServerGlob } from "./rooms/user-glob";
import { InboundRouter } from "./router";
import { openStore, type Store } from "./store";
import { TurnPipeline } from "./turns/pipeline";

export const CLIENT_NAME = "matrix-agent-bot/0.1.0";

export interface AppOverrides {
  /** Where log lines go (tests capture them). Default: stdout. */
  logDestination?: DestinationStream;
  logPretty?: boolean;
  /** Test hook: wrap the store adapter, e.g. with a fault injector. */
  wrapStoreAdapter?: (adapter: KeyvStoreAdapter) => KeyvStoreAdapter;
}

export interface App {
  readonly log: Logger;
  /** Known after start(). */
  readonly userId: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Whether the homeserver still accepts our token. */
  readonly tokenValid: boolean;
  /** Appservice mode: the port transactions are received on (known after start). */
  readonly appservicePort: number | undefined;
}

export function createApp(config: Config, overrides: AppOverrides = {}): App {
  // The embedded reference agent gets a fresh token per start; it is a secret like the configured ones.
  const embeddedAgentToken = config.agent.url === undefined ? randomBytes(24).toString("base64url") : undefined;
  const log = createLogger({
    level: config.logLevel, secrets: embeddedAgentToken ? [...config.secrets, embeddedAgentToken] : config.secrets,
    ...(overrides.logDestination ? { destination: overrides.logDestination } : {}),
    ...(overrides.logPretty !== undefined ? { pretty: overrides.logPretty } : {}),
  });
  routeSdkLogsInto(log);
  return new BotApp(config, log, overrides, embeddedAgentToken);
}

class BotApp implements App {
  userId = "";
  tokenValid = true;
  appservicePort: number | undefined;
  private readonly cleanups: Array<() => Promise<void> | void> = [];
  private stopped = false;

  constructor(private readonly config: Config, readonly log: Logger, private readonly overrides: AppOverrides,
    private readonly embeddedAgentToken: string | undefined) {}

  async start(): Promise<void> {
    const { config, log } = this;
    const store = await openStore(config.storeUrl, {
      logger: childLogger(log, "store"),
      ...(this.overrides.wrapStoreAdapter ? { wrapAdapter: this.overrides.wrapStoreAdapter } : {}),
    });
    this.cleanups.push(() => store.close());
    const t = config.timings;
    const accessToken = config.mode === "appservice" ? config.registration?.as_token ?? "" : config.accessToken ?? "";
    const http = createMatrixHttp({ homeserverUrl: config.homeserverUrl, accessToken, requestTimeoutMs: t.requestTimeoutMs });
    this.userId = await this.whoami(http);
    log.info({ userId: this.userId, mode: config.mode, homeserver: config.homeserverUrl, store: store.location }, "signed in");

    const onTokenRejected = (error: MatrixRequestError): void => this.tokenRejected(error);
    const sender = new MatrixSender(http, {
      userId: this.userId, retryBaseMs: t.retryBaseMs, retryMaxMs: t.retryMaxMs, maxAttempts: t.sendMaxAttempts, onTokenRejected,
    }, childLogger(log, "sender"));
    const outbox = new Outbox({ store, sender, log: childLogger(log, "outbox"), concurrency: t.fanoutConcurrency });
    this.cleanups.push(async () => {
      const drained = outbox.drain(); // in-flight sends cut short stay pending for the next start
      sender.stop();
      await drained;
    });
    // Every room message goes through the outbox; typing and receipts are cosmetic and go direct.
    const messages: RoomMessageSender = {
      sendEvent: (roomId, type, content, txnId) => outbox.send(roomId, type, content, txnId, { kind: "reply" }),
      setTyping: (roomId, typing, timeoutMs) => sender.setTyping(roomId, typing, timeoutMs),
      sendReadReceipt: (roomId, eventId) => sender.sendReadReceipt(roomId, eventId),
    };

    const journal = this.journalOn(store);
    const link = await this.startAgentLink(store);
    const pipeline = new TurnPipeline({
      agent: link, sender: messages, log: childLogger(log, "turns"),
      options: { typingTimeoutMs: t.typingTimeoutMs, placeholderDelayMs: t.placeholderDelayMs, turnQueueLimit: t.turnQueueLimit },
      onSettled: async (messages) => {
        for (const m of messages) await journal.complete(m.roomId, m.eventId);
      },
    });
    const directory = new RoomDirectory(http, this.userId, childLogger(log, "rooms"));
    const allowed = config.allowedUsers ?? [ownServerGlob(this.userId)];
    const invites = new InviteHandler(http, directory, allowed, childLogger(log, "invites"));
    const router = new InboundRouter({
      botUserId: this.userId, journal, directory, invites, pipeline, sender: messages, log: childLogger(log, "router"),
      ...(config.botDisplayName ? { botDisplayName: config.botDisplayName } : {}),
      threadKeyFor: async (roomId, threadRootId) => encodeThreadKey({ roomId, generation: 0, ...(threadRootId ? { threadRootId } : {}) }),
      fetchEvent: (roomId, eventId) => fetchEvent(http, roomId, eventId),
      isAllowedSender: (userId) => matchesAnyUserGlob(userId, allowed),
      encryptedNotice: new EncryptedRoomNotice(store.namespace<number>("encrypted-notice"), messages, childLogger(log, "rooms")),
    });
    this.cleanups.push(async () => {
      await router.idle();
      await pipeline.drain();
    });

    await outbox.recover();
    await router.recover();
    if (config.mode === "appservice") await this.startAppservice(store, router);
    else await this.startSync(store, http, router, journal, onTokenRejected);
    log.info({ agent: config.agent.url ?? "embedded reference agent" }, "ready");
  }

  private async startSync(store: Store, http: MatrixHttp, router: InboundRouter, journal: Journal,
    onTokenRejected: (error: MatrixRequestError) => void): Promise<void> {
    const t = this.config.timings;
    const syncTokens = store.namespace<string>("sync");
    const sync = new ClientSync(http, {
      load: async () => (await syncTokens.get("next_batch")) ?? undefined,
      save: async (token) => void (await syncTokens.set("next_batch", token)),
    }, {
      userId: this.userId, syncTimeoutMs: t.syncTimeoutMs, requestTimeoutMs: t.requestTimeoutMs,
      retryBaseMs: t.retryBaseMs, retryMaxMs: t.retryMaxMs, gapFillMaxEvents: t.gapFillMaxEvents,
      isKnown: (roomId, eventId) => journal.isDone(roomId, eventId),
      onBatch: (items) => router.onBatch(items), onTokenRejected,
    }, childLogger(this.log, "sync"));
    this.cleanups.push(() => sync.stop());
    await sync.start();
  }

  private async startAppservice(store: Store, router: InboundRouter): Promise<void> {
    const registration = this.config.registration;
    if (!registration) throw new Error("appservice mode needs MATRIX_REGISTRATION");
    const server = new AppserviceServer({
      host: this.config.appserviceBind.host, port: this.config.appserviceBind.port,
      hsToken: registration.hs_token, botUserId: this.userId,
      userNamespaceRegexes: userNamespaceRegexes(registration),
      bodyLimitBytes: this.config.timings.appserviceBodyLimitBytes,
      txnStore: store.namespace<AppserviceTxnRecord>("appservice-txn"),
      onBatch: (items) => router.onBatch(items), log: childLogger(this.log, "appservice"),
    });
    const { port } = await server.start();
    this.appservicePort = port;
    this.cleanups.push(() => server.stop());
    this.log.info({ host: this.config.appserviceBind.host, port }, "appservice listening for transactions");
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const cleanup of this.cleanups.reverse()) {
      try {
        await cleanup();
      } catch (e) {
        this.log.warn({ err: String(e) }, "error while stopping");
      }
    }
    this.log.info("stopped");
  }

  private async whoami(http: MatrixHttp): Promise<string> {
    const res = await http.request<{ user_id?: unknown }>("GET", "/_matrix/client/v3/account/whoami");
    if (typeof res.user_id !== "string") throw new Error("the homeserver's whoami answer has no user_id");
    return res.user_id;
  }

  private tokenRejected(error: MatrixRequestError): void {
    if (!this.tokenValid) return;
    this.tokenValid = false;
    const fix = this.config.mode === "appservice"
      ? "make the as_token in MATRIX_REGISTRATION match the registration file the homeserver loaded, then restart both"
      : "create a new token (`npm run login`, or set MATRIX_ACCESS_TOKEN) and restart the bot";
    this.log.fatal({ error: error.describe() },
      `the homeserver rejected the bot's access token (M_UNKNOWN_TOKEN): sending and syncing stopped. Fix: ${fix}`);
  }

  private journalOn(store: Store): Journal {
    const pending = store.namespace<number>("journal-pending");
    return new Journal({
      entries: store.namespace("journal"),
      pending,
      listPending: () => listNamespace(pending),
    }, childLogger(this.log, "journal"));
  }

  private async startAgentLink(store: Store): Promise<AgentLink> {
    const { config, log } = this;
    const t = config.timings;
    let url = config.agent.url;
    let token = config.agent.token;
    if (url === undefined) {
      token = this.embeddedAgentToken;
      const agent = await startReferenceAgent({ host: "127.0.0.1", port: 0, token, logger: childLogger(log, "reference-agent") });
      this.cleanups.push(() => agent.close());
      url = agent.url;
    }
    const sessions = store.namespace<{ sessionId: string; lastSeq: number }>("agent-session");
    const link = new AgentLink({
      url, ...(token ? { token } : {}), logger: childLogger(log, "agent-link"), clientName: CLIENT_NAME,
      sessionStore: { load: async () => (await sessions.get("session")) ?? undefined, save: async (s) => void (await sessions.set("session", s)) },
      heartbeatMs: t.heartbeatMs, pongTimeoutMs: t.pongTimeoutMs, reconnectBaseMs: t.reconnectBaseMs,
      reconnectMaxMs: t.reconnectMaxMs, reconnectResetMs: t.reconnectResetMs, maxFrameBytes: t.maxFrameBytes,
      runStartTimeoutMs: t.runStartTimeoutMs, runIdleTimeoutMs: t.runIdleTimeoutMs, runDeadlineMs: t.runDeadlineMs,
    });
    this.cleanups.push(() => link.stop());
    void link.start();
    return link;
  }
}

async function* listNamespace<T>(keyv: import("keyv").default<T>): AsyncIterable<[string, unknown]> {
  if (!keyv.iterator) throw new Error("this store cannot list a namespace");
  for await (const [key, value] of keyv.iterator(undefined)) {
    if (typeof key === "string") yield [key, value];
  }
}

async function fetchEvent(http: MatrixHttp, roomId: string, eventId: string): Promise<RoomEvent | undefined> {
  try {
    const raw = await http.request("GET", `/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(eventId)}`);
    const parsed = parseRoomEvent(raw, roomId);
    return parsed.ok ? parsed.event : undefined;
  } catch {
    return undefined;
  }
}
