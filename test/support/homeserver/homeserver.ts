// The in-process control API tests use: start, users, appservices, rooms, posting as a person,
// inspecting what the bot did, faults, and close.
import { RoomActions } from "./actions";
import type { PushResult } from "./appservice";
import { deviceRoutes, e2eeDialect } from "./appservice-devices";
import { AppserviceRegistry, notifyObservers } from "./appservice-registry";
import { Faults, type FaultMatch, type FaultReply, type InFlightGauge, type PeriodicFault } from "./faults";
import { HomeserverModel } from "./model";
import { createRoom, createRoomBodyFrom, upgradeRoom, type CreateRoomOptions } from "./room-create";
import type { RouteDeps } from "./route-deps";
import { accountRoutes } from "./routes-account";
import { readRoutes } from "./routes-read";
import { keyRoutes } from "./routes-keys";
import { MediaRepository, type MediaServed } from "./media";
import { mediaRoutes } from "./routes-media";
import { roomWriteRoutes } from "./routes-rooms";
import { trustRoutes } from "./routes-trust";
import { startHttpServer, type RunningServer } from "./server";
import { clientEvent, streamToken } from "./sync";
import { TxnCache } from "./txn-cache";
import { waitFor, type WaitOptions } from "../wait";
import type {
  AppserviceAuthStyle, AppserviceRegistration, ClientEvent, HomeserverObserver, HomeserverOptions, JsonObject, Membership,
  ReceiptRecord, RequestRecord, RoomVersion, TransactionRecord, TypingRecord,
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
  private readonly appservices: AppserviceRegistry;
  private readonly defaultRoomVersion: RoomVersion;
  private server: RunningServer | undefined;
  private closing: Promise<void> | undefined;
  private readonly observers = new Set<HomeserverObserver>();
  private readonly media: MediaRepository;

  constructor(private readonly options: HomeserverOptions = {}) {
    this.serverName = options.serverName ?? "localhost";
    this.model = new HomeserverModel(this.serverName);
    this.actions = new RoomActions(this.model);
    this.defaultRoomVersion = options.defaultRoomVersion ?? "10";
    this.appservices = new AppserviceRegistry(this.model, options, this.transactions, this.observers);
    this.media = new MediaRepository(this.serverName);
  }

  /** @internal used by startHomeserver */
  async listen(): Promise<void> {
    const deps: RouteDeps = {
      model: this.model,
      actions: this.actions,
      faults: this.faults,
      appservices: this.appservices.links,
      txnCache: new TxnCache(this.options.txnCachePeriodMs ?? 30 * 60_000, this.options.now ?? Date.now),
      defaultTimelineLimit: this.options.defaultTimelineLimit ?? 10,
      defaultRoomVersion: this.defaultRoomVersion,
      authenticatedMedia: this.options.authenticatedMedia ?? true,
      appserviceE2ee: e2eeDialect(this.options.appserviceE2ee),
    };
    this.server = await startHttpServer({
      model: this.model,
      faults: this.faults,
      appservices: this.appservices.links,
      requests: this.requests,
      routes: [...accountRoutes(deps), ...roomWriteRoutes(deps), ...readRoutes(deps), ...keyRoutes(deps), ...deviceRoutes(deps, deps.appserviceE2ee),
        ...trustRoutes(deps, { firstUploadWithoutAuth: this.options.crossSigningFirstUploadWithoutAuth ?? false }),
        ...mediaRoutes(this.media, { authenticated: deps.authenticatedMedia, maxUploadBytes: this.options.maxUploadBytes ?? 100 * 1024 * 1024 })],
      maxBodyBytes: this.options.maxBodyBytes ?? 1024 * 1024,
      appserviceE2ee: deps.appserviceE2ee,
      onRequest: (record) => notifyObservers(this.observers, (o, now) => o.request?.(record, now)),
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
    return this.appservices.add(reg, opts.legacyAuth ?? "both");
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

  // ---- media repository ------------------------------------------------------------------

  /** Stores a file as POST /_matrix/media/v3/upload would; returns its mxc URI. */
  uploadMedia(uploader: string, bytes: Buffer, contentType: string, filename?: string): string {
    return this.media.add({ bytes, contentType, uploader, ...(filename !== undefined ? { filename } : {}) });
  }

  /** Changes a stored file's bytes (an attachment altered on the server). */
  replaceMedia(mxc: string, bytes: Buffer): void {
    this.media.replace(mxc, bytes);
  }

  /** Download requests answered for this file, and the bytes written to clients before they finished or left. */
  mediaServed(mxc: string): MediaServed {
    return this.media.servedOf(mxc);
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

  /**
   * Polls `probe` until it returns something other than undefined/false; rejects naming `what` past the deadline
   * (default 20 s; every deadline is scaled by TEST_TIME_SCALE, see test/support/wait.ts).
   */
  async waitFor<T>(probe: () => T | undefined | false, opts: WaitOptions = {}): Promise<T> {
    return waitFor(probe, opts);
  }

  /** The current stream position, as a /sync token. */
  get streamToken(): string {
    return streamToken(this.model.pos);
  }

  /**
   * Whether `userId`'s latest /sync asked from the current stream position: that user has been handed every event
   * up to now (and a client that asks for its next batch only once it handled the last one, as the bot does, has
   * handled them).
   */
  syncCaughtUp(userId: string): boolean {
    for (let i = this.requests.length - 1; i >= 0; i -= 1) {
      const r = this.requests[i];
      if (r?.userId === userId && r.method === "GET" && r.path.endsWith("/sync")) return r.query["since"]?.[0] === this.streamToken;
    }
    return false;
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

  /** To-device messages for the user's device (or all its devices) are held back until releaseToDevice (a late room key). */
  holdToDevice(userId: string, deviceId?: string): void {
    this.model.keys.holdToDevice(userId, deviceId);
  }

  /** Delivers what holdToDevice held back (new to-device messages: /sync and appservice pushes); returns how many. */
  releaseToDevice(userId: string, deviceId?: string): number {
    return this.model.keys.releaseToDevice(userId, deviceId);
  }

  /** The types of the to-device messages held back for the user now. */
  heldToDevice(userId: string): string[] {
    return this.model.keys.heldToDevice(userId);
  }

  // ---- appservice pushes -----------------------------------------------------------------

  /** Enqueue extra events for the next transaction; with none, retries a failing transaction now. */
  pushEvents(appserviceId: string, events?: ClientEvent[]): void {
    this.appservices.pushEvents(appserviceId, events);
  }

  /** Push one raw transaction now (outside the serial queue); `extras` are the body's other fields. Returns the answer. */
  async pushTransaction(
    appserviceId: string,
    events: ClientEvent[],
    opts: { txnId?: string; hsToken?: string; auth?: AppserviceAuthStyle; extras?: JsonObject } = {},
  ): Promise<PushResult> {
    return this.appservices.pushTransaction(appserviceId, events, opts);
  }

  /** Transaction ids restart as after a Synapse 1.67 restart on SQLite: from the highest still queued, or from 1. */
  restartAppserviceTxnNumbering(): void {
    this.appservices.restartTxnNumbering();
  }

  /**
   * The appservice listens at `url` from now on: pushes go there, a failing one is retried there at once. Tests
   * that restart the bot let the OS pick its port each time and move the registration to it (a port given back
   * and bound again later can be taken meanwhile by any process on a busy machine: EADDRINUSE).
   */
  moveAppservice(appserviceId: string, url: string): void {
    this.appservices.moveAppservice(appserviceId, url);
  }

  /** Whether every appservice has pushed everything queued (no transaction pending or in flight). */
  appserviceIdle(appserviceId: string): boolean {
    return this.appservices.idle(appserviceId);
  }

  /** Stops pushes, releases held requests and parked syncs, closes every connection. Idempotent. */
  async close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.appservices.close();
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
