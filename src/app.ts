// The composition root: wires every part from a Config. Tests start the real app through createApp; only
// src/main.ts touches `process`. The mode-specific and agent wiring lives in src/app/.
import { randomBytes } from "node:crypto";
import type { KeyvStoreAdapter } from "keyv";
import type { DestinationStream, Logger } from "pino";
import { startAgent } from "./app/agent";
import { createCommandHandler } from "./app/commands";
import { inboundIntake, startInbound } from "./app/inbound";
import { runBatchesOn } from "./app/run-batches";
import { settleTurns } from "./app/settle-turns";
import { wireInterrupts } from "./app/interrupts";
import { wireLateKeys } from "./app/late-keys";
import { wireLive } from "./app/live";
import { wireOutgoing } from "./app/outgoing";
import { wireRoomAgents } from "./app/room-agents";
import { holdStoreLease } from "./app/standby";
import { openStandbyListener } from "./app/appservice-standby";
import { Operations } from "./app/operations";
import { fetchEvent, isJoined, resolveRoomRef, whoami } from "./app/matrix-helpers";
import type { Config } from "./config";
import { childLogger, createLogger } from "./log";
import type { MatrixRequestError } from "./matrix/errors";
import { createMatrixHttp, type MatrixHttp } from "./matrix/http";
import { startCrypto, type CryptoRuntime } from "./matrix/crypto";
import { Journal, type PoisonItem } from "./matrix/journal";
import { journalStores } from "./app/journal-stores";
import { RoomDirectory } from "./matrix/room-directory";
import { routeSdkLogsInto } from "./matrix/sdk";
import { agentFace, facedEnqueue, facedMessages, facedOutbox, roomFaces } from "./app/faces";
import { wireAgentUsers } from "./app/agent-users";
import { userNamespaceRegexes } from "./matrix/appservice-protocol";
import { ProactiveFanout } from "./proactive/fanout";
import { InviteHandler } from "./rooms/invites";
import { installRoomLifecycle, type RoomLifecycle } from "./rooms/lifecycle";
import { rememberAnswer, RoomMemory } from "./rooms/room-memory";
import { RoomSettingsStore } from "./rooms/settings";
import { encodeThreadKey } from "./rooms/thread-key";
import { keepPrivate } from "./util/private-files";
import { allowedUserGlobs, matchesAnyUserGlob, ownServerGlob } from "./rooms/user-glob";
import { createMediaRuntime } from "./media";
import { InboundRouter } from "./router";
import { openStore, StoreSweeper, type Store } from "./store";
import { HOLDER_NAMESPACE, StoreHolder, type StoreHolderRecord } from "./store/holder";
import { ConversationChanges } from "./turns/changes";
import { TurnPipeline } from "./turns/pipeline";
import { ThreadFollowing } from "./turns/thread-following";
import { createUsage } from "./usage";

export { CLIENT_NAME } from "./app/agent";

export interface AppOverrides {
  /** Where log lines go (tests capture them). Default: stdout. */
  logDestination?: DestinationStream;
  logPretty?: boolean;
  /** Test hook: wrap the store adapter, e.g. with a fault injector. */
  wrapStoreAdapter?: (adapter: KeyvStoreAdapter) => KeyvStoreAdapter;
  /** The wall clock usage days are counted on (src/usage); default Date.now. */
  clock?: () => number;
  /** The store lease was lost (another instance may be active): src/main.ts exits at once. Default: stop(). */
  onLeaseLost?: (why: string) => void;
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
  /** The port of the bot's own HTTP server (/healthz, /readyz, /metrics, POST /proactive). */
  readonly httpPort: number | undefined;
}

export function createApp(config: Config, overrides: AppOverrides = {}): App {
  // The embedded reference agent gets a fresh token per start; it is a secret like the configured ones.
  const embeddedAgentToken = config.agent.url === undefined ? randomBytes(24).toString("base64url") : undefined;
  const log = createLogger({
    level: config.logLevel, secrets: embeddedAgentToken ? [...config.secrets, embeddedAgentToken] : config.secrets,
    repeatWindowMs: config.timings.logRepeatWindowMs,
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
  httpPort: number | undefined;
  private ops: Operations | undefined;
  private readonly cleanups: Array<() => Promise<void> | void> = [];
  private stopped = false;
  private rejected: MatrixRequestError | undefined;

  constructor(private readonly config: Config, readonly log: Logger, private readonly overrides: AppOverrides,
    private readonly embeddedAgentToken: string | undefined) {}

  async start(): Promise<void> {
    const { config, log } = this;
    const t = config.timings;
    const ops = new Operations(config, log);
    this.ops = ops;
    await ops.start();
    this.httpPort = ops.port;
    this.cleanups.push(() => ops.stop());
    keepPrivate(config.dataDir, log);
    const store = await openStore(config.storeUrl, {
      logger: childLogger(log, "store"),
      ...(this.overrides.wrapStoreAdapter ? { wrapAdapter: this.overrides.wrapStoreAdapter } : {}),
    });
    this.cleanups.push(() => store.close());
    ops.useStore(store);
    const sweeper = new StoreSweeper(store, { intervalMs: t.storeSweepIntervalMs, batch: t.storeSweepBatch, log: childLogger(log, "store"),
      onSwept: (deleted) => ops.metrics.storeSwept(deleted) }).start();
    this.cleanups.push(() => sweeper.stop());
    const holder = await new StoreHolder(store.namespace<StoreHolderRecord>(HOLDER_NAMESPACE), childLogger(log, "store"))
      .start({ exclusive: store.backend === "sqlite" });
    this.cleanups.push(() => holder.stop()); // store-copy refuses a store while a bot holds it
    // PostgreSQL/Redis: wait as a standby until this process holds the store lease (src/app/standby.ts).
    // Appservice mode: a standby answers transactions too, storing them for the active (src/app/appservice-standby.ts).
    const standbyListener = await openStandbyListener(config, store, log, () => ops.readiness.homeserverAnswered());
    this.appservicePort = standbyListener?.port;
    if (standbyListener) this.cleanups.push(() => standbyListener.stop());
    const lease = await holdStoreLease({ config, log, stopping: () => this.stopped, onLost: (why) => this.leaseLost(why),
      metrics: ops.metrics, onStandby: (waiting) => ops.readiness.standingBy(waiting) });
    if (this.stopped) return;
    if (lease) this.cleanups.push(() => lease.release()); // after everything that sends has stopped
    const accessToken = config.mode === "appservice" ? config.registration?.as_token ?? "" : config.accessToken ?? "";
    const observed = ops.observe(
      createMatrixHttp({ homeserverUrl: config.homeserverUrl, accessToken, requestTimeoutMs: t.requestTimeoutMs, sendConcurrency: t.sendConcurrency }),
      this.tokenFix(),
      (error) => { // whichever request meets a revoked token first (a DM check reads the members); at start, whoami says
        if (this.userId !== "") this.tokenRejected(error);
      });
    // Once the token is rejected nothing more is asked of the homeserver (no loop of 401s); /readyz probes on its own.
    const http: MatrixHttp = {
      request: <T>(...args: Parameters<MatrixHttp["request"]>) => {
        if (this.rejected) return Promise.reject(this.rejected);
        // Every send only while the lease holds (src/lease): waits for an overdue renewal, fails once it is lost.
        if (args[0] !== "GET" && lease) return lease.whenHeld(`${args[0]} to the homeserver`).then(() => observed.request<T>(...args));
        return observed.request<T>(...args);
      },
    };
    this.userId = await whoami(http);
    // MATRIX_E2EE=true (runbook/encryption.md): the device opens before anything is sent or read.
    let crypto: CryptoRuntime | undefined;
    if (config.e2ee) {
      const appservice = config.mode === "appservice" ? { userId: this.userId, deviceDisplayName: config.botDisplayName ?? "matrix-agent-bot" } : undefined;
      crypto = await startCrypto({ homeserverUrl: config.homeserverUrl, accessToken, dataDir: config.dataDir,
        passphrase: config.cryptoPassphrase ?? "", http, log: childLogger(log, "crypto"), ...(appservice ? { appservice } : {}) });
      const started = crypto;
      this.cleanups.push(() => started.stop()); // pushed early: runs after the outbox and the sync loop stopped
    }
    log.info({ userId: this.userId, mode: config.mode, homeserver: config.homeserverUrl, store: store.location }, "signed in");
    if (config.allowedUsers === undefined) {
      log.warn({ allowed: ownServerGlob(this.userId) },
        "ALLOWED_USERS is not set: the bot serves every user of its own homeserver (anyone, if it has open registration); set ALLOWED_USERS to limit it");
    }

    const settings = new RoomSettingsStore({ settings: store.namespace("room-settings"),
      proactiveIndex: store.namespace<number>("proactive-rooms"), log: childLogger(log, "settings") });
    const live = wireLive(config, store, http, settings, childLogger(log, "render"));
    const roomMemory = new RoomMemory({ kv: store.namespace("room-memory"), log: childLogger(log, "rooms"),
      threadsMax: t.threadsFollowedMax, answersMax: t.answersRememberedMax });

    // Outgoing: every room message through the durable outbox; typing and receipts are cosmetic and go direct.
    const onTokenRejected = (error: MatrixRequestError): void => this.tokenRejected(error);
    const { outbox, messages, announcer } = wireOutgoing({ userId: this.userId, http, store, crypto, timings: t, metrics: ops.metrics,
      gate: live.gate, unrecorded: live.unrecorded, onTokenRejected, onStop: (cleanup) => this.cleanups.push(cleanup), log });

    // A room upgrade keeps the conversation: the thread key names the first room of the upgrade chain.
    let lifecycle: RoomLifecycle | undefined;
    const threadKeyFor = async (roomId: string, threadRootId: string | undefined): Promise<string> => encodeThreadKey({
      roomId: lifecycle ? await lifecycle.threadRoomFor(roomId) : roomId,
      generation: (await settings.get(roomId)).threadGeneration, ...(threadRootId ? { threadRootId } : {}) });

    // The agent, and what it produces on its own; attachments for it (src/media) served once at GET /media.
    const media = createMediaRuntime(config, { accessToken, httpPort: () => ops.port ?? config.http.port, log: childLogger(log, "media") });
    ops.serveMedia(media.route);
    this.cleanups.push(() => media.close());
    const agent = await startAgent(config, store, log, this.embeddedAgentToken, media.parts);
    this.cleanups.push(() => agent.stop());
    const fanout = new ProactiveFanout({
      proactiveRooms: () => settings.proactiveRooms(), isJoined: (roomId) => isJoined(http, roomId),
      outbox: facedEnqueue(outbox, agentFace(agent)), recordedRuns: store.namespace<string[]>("proactive-runs"), log: childLogger(log, "proactive"),
    });
    agent.link.onAgentInitiated((run) => fanout.onAgentInitiated(run));
    const agents = wireRoomAgents({ agent, store, settings, outbox, isJoined: (roomId) => isJoined(http, roomId), log,
      agentUserIn: async (name, roomId) => agentUsers?.userOfAgentIn(name, roomId) }); // agentUsers: set just below, used once running
    const allowed = allowedUserGlobs(config.allowedUsers, this.userId);
    const isAllowedUser = (userId: string): boolean => matchesAnyUserGlob(userId, allowed);
    // Appservice mode: named agents answer as users of their own; else what agents send carries their face.
    const agentUsers = wireAgentUsers({ config, http, botUserId: this.userId, agent, roomAgents: agents.roomAgents, isAllowedUser,
      isBotJoined: (roomId) => isJoined(http, roomId), onBotJoined: async (invite) => lifecycle?.onJoined(invite), log: childLogger(log, "agents") });
    const faceFor = roomFaces(agent, agents.roomAgents);
    const [agentMessages, agentOutbox] = [facedMessages(messages, faceFor, agentUsers), facedOutbox(outbox, faceFor, agentUsers)];
    ops.watchAgents(agent.agents, agent.defaultAgent);
    ops.acceptProactivePushes(fanout);
    // Each resolves after its first attempt; WebSocket links keep reconnecting in the background.
    await Promise.all([...agent.agents.values()].map((a) => a.transport.start()));
    await agentUsers?.start();

    // Inbound: intake → journal → router → commands or turns.
    const intake = inboundIntake(ops, store, log, () => router);
    const journal = this.journalOn(store, (item) => intake.poisoned(item), lease ? (what) => lease.whenHeld(what) : undefined);
    const usage = createUsage({ store, limits: config.usageLimits, log: childLogger(log, "usage"),
      ...(this.overrides.clock ? { now: this.overrides.clock } : {}), onUsage: (name, totals) => ops.metrics.agentUsage(name, totals) });
    const prompts = wireInterrupts(config, { store, http, messages: agentMessages, log: childLogger(log, "interrupts"),
      onOutcome: (outcome) => ops.metrics.promptSettled(outcome) });
    const pipeline = new TurnPipeline({ interrupts: prompts.forPipeline,
      agent: agents.roomAgents.routed((name, runner) => usage.meter(runner, name)), sender: agentMessages, log: childLogger(log, "turns"),
      options: { typingTimeoutMs: t.typingTimeoutMs, typingDelayMs: t.typingDelayMs, placeholderDelayMs: t.placeholderDelayMs, turnQueueLimit: t.turnQueueLimit,
        busyRetries: t.busyRetries, busyRetryDelayMs: t.busyRetryDelayMs, maxConcurrent: t.maxConcurrentRuns, maxPerUser: t.maxRunsPerUser },
      live: live.rendering(agentOutbox, crypto ? (roomId) => crypto.isEncrypted(roomId) : undefined),
      attachments: media.posting({ isRecorded: (txnId) => outbox.isRecorded(txnId),
        encrypted: crypto ? (roomId) => crypto.isEncrypted(roomId) : async () => false }),
      onSettled: settleTurns(journal, store.writesInIssueOrder), writesInIssueOrder: store.writesInIssueOrder, sendsRecorded: true,
      onAnswered: (batch, eventIds) => rememberAnswer(roomMemory, batch, eventIds),
      onRunFinished: (result, _messages, seconds) => ops.metrics.turnFinished(result.ok ? "ok" : result.failure.kind, seconds),
      onDropped: (dropped, reason) => ops.metrics.messagesDropped(reason, dropped.length),
      batches: runBatchesOn(store, journal, childLogger(log, "turns")),
    });
    const ownUsers = config.mode === "appservice" && config.registration ? userNamespaceRegexes(config.registration) : [];
    // Its own retry budget (ROOM_LOOKUP_RETRY_*), not MATRIX_RETRY_*: short test timings there made it give up inside a 5xx burst.
    const directory = new RoomDirectory(http, this.userId, childLogger(log, "rooms"), {
      memberFetchAttempts: t.roomLookupAttempts, retryBaseMs: t.roomLookupBaseMs, retryMaxMs: t.roomLookupMaxMs,
      isAllowedUser, isOwnUser: (userId) => ownUsers.some((re) => re.test(userId)) });
    const interrupts = prompts.bind({ pipeline, directory, threadKeyFor });
    this.cleanups.push(() => interrupts.stop());
    const invites = new InviteHandler(http, allowed, childLogger(log, "invites"),
      async (invite) => lifecycle?.onJoined(invite), agentUsers?.isAgentUser);
    const commands = createCommandHandler({ config, botUserId: this.userId, http, settings, pipeline, link: agent.link, agents,
      store, outbox, messages, log: childLogger(log, "commands"), onCommand: (name) => ops.metrics.commandRun(name), liveMessaging: live.policy,
      inboundRefusals: () => intake.stats(), work: () => ops.work(), usage, prompts: (roomId) => interrupts.pending(roomId),
      createChatRoom: (userId, title, opts) => {
        if (!lifecycle) throw new Error("the bot is still starting");
        return lifecycle.createChatRoom(userId, title, opts);
      } });
    const lateKeys = wireLateKeys({ config, store, crypto, messages, journal, metrics: ops.metrics, log: childLogger(log, "rooms") });
    const router = new InboundRouter({
      botUserId: this.userId, journal, directory, invites, pipeline, sender: messages, log: childLogger(log, "router"),
      ...(config.botDisplayName ? { botDisplayName: config.botDisplayName } : {}),
      threadKeyFor, commands, interrupts, retry: { baseMs: t.retryBaseMs, maxMs: t.retryMaxMs },
      changes: new ConversationChanges({ pipeline, memory: roomMemory, sender: agentMessages, threadKeyFor, directory, log: childLogger(log, "turns"),
        complete: (roomId, eventId) => journal.complete(roomId, eventId), fetchEvent: (roomId, eventId) => fetchEvent(http, roomId, eventId),
        isCommand: (event) => commands.parse(event)?.prefix != null, reanswerWithinMs: t.editReanswerMs }),
      media: media.intake((roomId) => agents.roomAgents.capabilitiesFor(roomId)),
      replyModeFor: async (roomId) => (await settings.get(roomId)).replyMode,
      threads: new ThreadFollowing({ botUserId: this.userId, memory: roomMemory, log: childLogger(log, "router"),
        mode: async (roomId) => (await settings.get(roomId)).threads, fetchEvent: (roomId, eventId) => fetchEvent(http, roomId, eventId) }),
      fetchEvent: (roomId, eventId) => fetchEvent(http, roomId, eventId),
      isAllowedSender: (userId) => isAllowedUser(userId) && agentUsers?.isAgentUser(userId) !== true, // never answers an agent
      encryptedNotice: { onUnreadable: (event) => lateKeys.onUnreadable(event) },
    });
    this.cleanups.push(async () => {
      router.stop();
      directory.stop();
      await router.idle();
      await pipeline.drain(t.shutdownGraceMs);
    });

    router.addObserver(live.policy);
    if (agentUsers) router.addObserver(agentUsers.invites);
    lifecycle = installRoomLifecycle({
      config, botUserId: this.userId, http, directory, messages, outbox, store, settings: agents.lifecycleSettings, log: childLogger(log, "lifecycle"),
      addObserver: (observer) => router.addObserver(observer), isAllowedUser, prompts: interrupts,
    });
    const started = lifecycle;
    this.cleanups.push(() => started.stop());

    if (config.adminRoom) {
      const adminRoom = config.adminRoom;
      announcer.setAdminRoom(await resolveRoomRef(http, adminRoom).catch((e: unknown) => {
        log.error({ adminRoom, err: String(e) }, "ADMIN_ROOM could not be resolved; dead letters are only logged");
        return undefined;
      }));
    }
    await outbox.recover();
    // In the background: turns run again meanwhile (a turn that continues a message waits for that message's recovery).
    void live.recover(agentOutbox, childLogger(log, "render")).catch((e: unknown) => log.warn({ err: String(e) }, "live message recovery failed"));
    await interrupts.start(); // before the journal's events are routed: answers given while down find their prompts
    await router.recover();
    await lateKeys.start(router); // messages whose room key comes late (or came while the bot was down)
    this.cleanups.push(() => lateKeys.stop());
    const inbound = await startInbound({ config, botUserId: this.userId, store, http, journal, log, onTokenRejected,
      ...(crypto ? { crypto } : {}), ...(standbyListener ? { standbyListener } : {}), intake,
      onHomeserverOk: () => ops.readiness.homeserverAnswered() });
    this.appservicePort = inbound.port;
    this.cleanups.push(() => inbound.stop());
    await lifecycle.start();
    // From now on /metrics can report the bot idle (until then it is starting, never idle).
    ops.watchWork(() => ({ router: router.pendingCount() + started.pendingCount(), turns: pipeline.pendingCount(),
      outbox: outbox.pendingCount() + fanout.pendingCount() + agents.pendingCount() }));
    ops.started({ agent: config.agent.url ?? "embedded reference agent" }); // logs `ready` when /readyz says 200
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.ops?.stopping(); // /readyz says so at once; in-flight turns get SHUTDOWN_GRACE_MS
    for (const cleanup of this.cleanups.reverse()) {
      try {
        await cleanup();
      } catch (e) {
        this.log.warn({ err: String(e) }, "error while stopping");
      }
    }
    this.log.info("stopped");
  }

  private tokenRejected(error: MatrixRequestError): void {
    if (!this.tokenValid) return;
    this.tokenValid = false;
    this.rejected = error;
    this.log.fatal({ error: error.describe() },
      `the homeserver rejected the bot's access token (M_UNKNOWN_TOKEN): sending and syncing stopped. Fix: ${this.tokenFix()}`);
  }

  private tokenFix(): string {
    return this.config.mode === "appservice"
      ? "make the as_token in MATRIX_REGISTRATION match the registration file the homeserver loaded, then restart both"
      : "create a new token (`npm run login`, or set MATRIX_ACCESS_TOKEN) and restart the bot";
  }

  private journalOn(store: Store, onPoison: (item: PoisonItem) => void, guard: ((what: string) => Promise<void>) | undefined): Journal {
    return new Journal(journalStores(store), childLogger(this.log, "journal"), { onPoison, ...(guard ? { guard } : {}) });
  }

  private leaseLost(why: string): void {
    if (this.overrides.onLeaseLost) this.overrides.onLeaseLost(why);
    else void this.stop();
  }
}
