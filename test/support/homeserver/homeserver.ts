// The in-process control API tests use: start, users, appservices, rooms, posting as a person,
// inspecting what the bot did, faults, and close.
import { RoomActions } from "./actions";
import { AppserviceLink, type PushResult } from "./appservice";
import { Faults, type FaultMatch, type FaultReply, type InFlightGauge, type PeriodicFault } from "./faults";
import { HomeserverModel } from "./model";
import { createRoom, createRoomBodyFrom, upgradeRoom, type CreateRoomOptions } from "./room-create";
import type { RouteDeps } from "./route-deps";
import { accountRoutes } from "./routes-account";
import { readRoutes } from "./routes-read";
import { keyRoutes } from "./routes-keys";
import { roomWriteRoutes } from "./routes-rooms";
import { startHttpServer, type RunningServer } from "./server";
import { clientEvent } from "./sync";
import type {
  AppserviceAuthStyle,
  AppserviceRegistration,
  ClientEvent,
  HomeserverObserver,
  HomeserverOptions,
  JsonObject,
  Membership,
  ReceiptRecord,
  RequestRecord,
  RoomVersion,
  TransactionRecord,
  TypingRecord,
} from "./types";
import { clone } from "./types";

export interface TestUserCredentials {
  userId: string;
  accessToken: string;
  deviceId: string;
}

export class Homeserver {
  readonly serverName: string;
  readonly requests: RequestRecord[] = [];
  readonly transactions: TransactionRecord[] = [];
  private readonly model: HomeserverModel;
  private readonly actions: RoomActions;
  private readonly faults = new Faults();
  private readonly appservices = new Map<string, AppserviceLink>();
  private readonly defaultRoomVersion: RoomVersion;
  private server: RunningServer | undefined;
  private txnCounter = Date.now() * 1000;
  private closing: Promise<void> | undefined;
  private readonly observers = new Set<HomeserverObserver>();

  constructor(private readonly options: HomeserverOptions = {}) {
    this.serverName = options.serverName ?? "localhost";
    this.model = new HomeserverModel(this.serverName);
    this.actions = new RoomActions(this.model);
    this.defaultRoomVersion = options.defaultRoomVersion ?? "10";
    this.model.onEvent((stored, room) => {
      const aliases = [...this.model.aliases.entries()].filter(([, id]) => id === room.roomId).map(([alias]) => alias);
      for (const link of this.appservices.values()) if (link.isInterested(stored, room, aliases)) link.enqueueStored(stored);
    });
  }

  /** @internal used by startHomeserver */
  async listen(): Promise<void> {
    const deps: RouteDeps = {
      model: this.model,
      actions: this.actions,
      faults: this.faults,
      appservices: this.appservices,
      txnCache: new Map(),
      defaultTimelineLimit: this.options.defaultTimelineLimit ?? 10,
      defaultRoomVersion: this.defaultRoomVersion,
    };
    this.server = await startHttpServer({
      model: this.model,
      faults: this.faults,
      appservices: this.appservices,
      requests: this.requests,
      routes: [...accountRoutes(deps), ...roomWriteRoutes(deps), ...readRoutes(deps), ...keyRoutes(deps)],
      maxBodyBytes: this.options.maxBodyBytes ?? 1024 * 1024,
      onRequest: (record) => {
        if (this.observers.size === 0) return;
        const now = performance.now();
        for (const o of this.observers) o.request?.(record, now);
      },
    });
  }

  get url(): string {
    if (!this.server) throw new Error("homeserver double is not listening");
    return this.server.url;
  }

  // ---- users and appservices ------------------------------------------------------------

  addUser(localpart: string, opts: { password?: string; displayName?: string } = {}): TestUserCredentials {
    const userId = this.model.users.userIdFor(localpart);
    this.model.users.create(userId, opts);
    const { accessToken, deviceId } = this.model.users.issueToken(userId);
    return { userId, accessToken, deviceId };
  }

  /** Registers an appservice: its as_token authenticates as its sender; events that concern it are pushed. */
  addAppservice(reg: AppserviceRegistration, opts: { legacyAuth?: AppserviceAuthStyle } = {}): { id: string; senderUserId: string } {
    if (this.appservices.has(reg.id)) throw new Error(`appservice ${reg.id} already registered`);
    const link = new AppserviceLink(clone(reg), opts.legacyAuth ?? "both", {
      serverName: this.serverName,
      txnRetryMs: this.options.txnRetryMs ?? 50,
      txnTimeoutMs: this.options.txnTimeoutMs ?? 10_000,
      records: this.transactions,
      nextTxnId: () => String((this.txnCounter += 1)),
      maxEventsPerTransaction: Math.max(1, this.options.maxEventsPerTransaction ?? Number.POSITIVE_INFINITY),
      onPush: (txnId, events) => {
        if (this.observers.size === 0) return;
        const now = performance.now();
        for (const o of this.observers) o.transactionPush?.({ appserviceId: reg.id, txnId, events }, now);
      },
      onAnswered: (txnId, events, status) => {
        if (this.observers.size === 0) return;
        const now = performance.now();
        for (const o of this.observers) o.transactionAnswered?.({ appserviceId: reg.id, txnId, events, status }, now);
      },
    });
    this.appservices.set(reg.id, link);
    this.model.users.registerAppserviceToken(reg.as_token, reg.id);
    if (!this.model.users.get(link.senderUserId)) this.model.users.create(link.senderUserId, { appserviceId: reg.id });
    return { id: reg.id, senderUserId: link.senderUserId };
  }

  revokeToken(accessToken: string): void {
    this.model.users.revoke(accessToken);
  }

  setDisplayName(userId: string, displayName: string | undefined): void {
    this.actions.setDisplayName(userId, displayName);
  }

  setAccountData(userId: string, type: string, content: JsonObject, roomId?: string): void {
    this.model.setAccountData(userId, roomId, type, content);
  }

  accountData(userId: string, type: string, roomId?: string): JsonObject | undefined {
    const entry = this.model.users.getAccountData(userId, roomId, type);
    return entry ? clone(entry.content) : undefined;
  }

  // ---- rooms, as a person would act (throws MatrixHttpError when the spec would refuse) ---------

  createRoom(creatorUserId: string, opts: CreateRoomOptions = {}): string {
    this.model.users.require(creatorUserId);
    return createRoom(this.model, creatorUserId, createRoomBodyFrom(opts), this.defaultRoomVersion);
  }

  /** Upgrades a room as POST /upgrade does; returns the replacement room id. */
  upgradeRoom(userId: string, roomId: string, newVersion: RoomVersion): string {
    return upgradeRoom(this.model, this.actions, userId, roomId, newVersion);
  }

  join(userId: string, roomId: string): string {
    return this.actions.membership(userId, roomId, userId, "join").event.event_id;
  }

  leave(userId: string, roomId: string): string {
    return this.actions.membership(userId, roomId, userId, "leave").event.event_id;
  }

  invite(inviterUserId: string, roomId: string, inviteeUserId: string, opts: { isDirect?: boolean } = {}): string {
    const extra = opts.isDirect === true ? { is_direct: true } : {};
    return this.actions.membership(inviterUserId, roomId, inviteeUserId, "invite", extra).event.event_id;
  }

  kick(kickerUserId: string, roomId: string, targetUserId: string, reason?: string): string {
    return this.actions.membership(kickerUserId, roomId, targetUserId, "leave", reason !== undefined ? { reason } : {}).event.event_id;
  }

  ban(bannerUserId: string, roomId: string, targetUserId: string, reason?: string): string {
    return this.actions.membership(bannerUserId, roomId, targetUserId, "ban", reason !== undefined ? { reason } : {}).event.event_id;
  }

  sendEvent(senderUserId: string, roomId: string, type: string, content: JsonObject): string {
    return this.actions.send(senderUserId, roomId, type, content).event.event_id;
  }

  setState(senderUserId: string, roomId: string, type: string, stateKey: string, content: JsonObject): string {
    return this.actions.setState(senderUserId, roomId, type, stateKey, content).event.event_id;
  }

  redact(senderUserId: string, roomId: string, eventId: string, reason?: string): string {
    return this.actions.redact(senderUserId, roomId, eventId, reason).event.event_id;
  }

  // ---- inspection ------------------------------------------------------------------------

  /** Every event the room holds, in order, as ClientEvents (with room_id). */
  timeline(roomId: string): ClientEvent[] {
    const room = this.model.room(roomId);
    if (!room) throw new Error(`unknown room ${roomId}`);
    return room.events.map((stored) => clone(stored.event));
  }

  /** Events across all rooms, in stream order, filtered. */
  sent(filter: { roomId?: string; sender?: string; type?: string } = {}): ClientEvent[] {
    const all = [...this.model.rooms.values()].flatMap((room) => room.events);
    return all
      .sort((a, b) => a.pos - b.pos)
      .filter(({ event }) => (filter.roomId === undefined || event.room_id === filter.roomId) && (filter.sender === undefined || event.sender === filter.sender) && (filter.type === undefined || event.type === filter.type))
      .map((stored) => clone(stored.event));
  }

  /** A current state event (ClientEvent), if present. */
  getState(roomId: string, type: string, stateKey = ""): ClientEvent | undefined {
    const stored = this.model.room(roomId)?.state(type, stateKey);
    return stored ? clientEvent(stored, { withRoomId: true }) : undefined;
  }

  membership(roomId: string, userId: string): Membership | undefined {
    return this.model.room(roomId)?.membership(userId);
  }

  rooms(): string[] {
    return [...this.model.rooms.keys()];
  }

  get typing(): TypingRecord[] {
    return this.model.typingRecords;
  }

  get receipts(): ReceiptRecord[] {
    return this.model.receiptRecords;
  }

  /** Long-polling /sync requests currently parked. */
  get pendingSyncs(): number {
    return this.model.pendingWaiters;
  }

  now(): number {
    return Date.now();
  }

  /** Polls `probe` until it returns something other than undefined/false; rejects naming `what` on timeout. */
  async waitFor<T>(probe: () => T | undefined | false, opts: { timeoutMs?: number; what?: string; intervalMs?: number } = {}): Promise<T> {
    const deadline = Date.now() + (opts.timeoutMs ?? 5000);
    for (;;) {
      const value = probe();
      if (value !== undefined && value !== false) return value;
      if (Date.now() >= deadline) throw new Error(`timed out after ${opts.timeoutMs ?? 5000} ms waiting for ${opts.what ?? "condition"}`);
      await new Promise<void>((resolve) => setTimeout(resolve, opts.intervalMs ?? 10).unref());
    }
  }

  /** Benchmark instrumentation: `observer` sees requests and transaction pushes as they happen. Returns the unsubscribe. */
  observe(observer: HomeserverObserver): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  // ---- faults ----------------------------------------------------------------------------

  get inFlight(): InFlightGauge {
    return this.faults.inFlight;
  }

  resetInFlight(): void {
    this.faults.resetInFlight();
  }

  get sendDelayMs(): number {
    return this.faults.sendDelayMs;
  }

  set sendDelayMs(ms: number) {
    this.faults.sendDelayMs = ms;
  }

  /** The next `times` requests matching `match` get `reply` instead of being handled. */
  failNext(match: FaultMatch, reply: FaultReply, times = 1): void {
    this.faults.add(match, reply, times);
  }

  /** Every `every`-th request matching `match` (the first included) gets `reply` until `untilMs` (epoch ms). */
  failEvery(match: FaultMatch, reply: FaultReply, periodic: PeriodicFault): void {
    this.faults.addPeriodic(match, reply, periodic);
  }

  /** failNext rules not yet used up. */
  get pendingFaults(): number {
    return this.faults.pendingFaults;
  }

  clearFaults(): void {
    this.faults.clear();
  }

  // ---- appservice pushes -----------------------------------------------------------------

  private link(appserviceId: string): AppserviceLink {
    const link = this.appservices.get(appserviceId);
    if (!link) throw new Error(`unknown appservice ${appserviceId}`);
    return link;
  }

  /** Enqueue extra events for the next transaction; with none, retries a failing transaction now. */
  pushEvents(appserviceId: string, events?: ClientEvent[]): void {
    const link = this.link(appserviceId);
    if (events && events.length > 0) link.enqueue(events);
    else link.retryNow();
  }

  /** Push one raw transaction now (outside the serial queue); returns the appservice's answer. */
  async pushTransaction(
    appserviceId: string,
    events: ClientEvent[],
    opts: { txnId?: string; hsToken?: string; auth?: AppserviceAuthStyle } = {},
  ): Promise<PushResult> {
    const link = this.link(appserviceId);
    const result = await link.push(opts.txnId ?? String((this.txnCounter += 1)), events, {
      hsToken: opts.hsToken ?? link.registration.hs_token,
      auth: opts.auth ?? link.authStyle,
    });
    if (result.error !== undefined) throw new Error(`transaction push failed: ${result.error}`);
    return { status: result.status, body: result.body };
  }

  /** Whether every appservice has pushed everything queued (no transaction pending or in flight). */
  appserviceIdle(appserviceId: string): boolean {
    const link = this.link(appserviceId);
    return !link.busy && link.pendingCount === 0;
  }

  /** Stops pushes, releases held requests and parked syncs, closes every connection. Idempotent. */
  async close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    for (const link of this.appservices.values()) link.close();
    this.faults.close();
    this.model.close();
    await this.server?.close();
  }
}

export async function startHomeserver(options: HomeserverOptions = {}): Promise<Homeserver> {
  const hs = new Homeserver(options);
  await hs.listen();
  return hs;
}
