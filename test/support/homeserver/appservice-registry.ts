// The appservices registered with the homeserver double: one AppserviceLink (transaction queue) each, their
// as_tokens authenticating as their senders, every new event routed to the links interested in it, and raw
// pushes on demand. The Homeserver control API delegates its appservice methods here.
import { AppserviceLink, type PushResult } from "./appservice";
import { e2eeDialect } from "./appservice-devices";
import { AppserviceE2eeFeed } from "./appservice-e2ee";
import type { HomeserverModel } from "./model";
import type {
  AppserviceAuthStyle, AppserviceRegistration, ClientEvent, HomeserverObserver, HomeserverOptions, JsonObject, TransactionRecord,
} from "./types";
import { clone } from "./types";

/** Calls `each` on every observer with the time now, unless there are none (instrumentation costs nothing then). */
export function notifyObservers(observers: ReadonlySet<HomeserverObserver>,
  each: (o: HomeserverObserver, now: number) => void): void {
  if (observers.size === 0) return;
  const now = performance.now();
  for (const o of observers) each(o, now);
}

export class AppserviceRegistry {
  /** By appservice id; the HTTP server and the routes read it. */
  readonly links = new Map<string, AppserviceLink>();
  /** By appservice id: what encryption adds to its transactions. */
  private readonly feeds = new Map<string, AppserviceE2eeFeed>();
  private txnCounter = Date.now() * 1000;

  constructor(
    private readonly model: HomeserverModel,
    private readonly options: HomeserverOptions,
    private readonly records: TransactionRecord[],
    private readonly observers: ReadonlySet<HomeserverObserver>,
  ) {
    model.onEvent((stored, room) => {
      const aliases = [...model.aliases.entries()].filter(([, id]) => id === room.roomId).map(([alias]) => alias);
      for (const link of this.links.values()) if (link.isInterested(stored, room, aliases)) link.enqueueStored(stored);
    });
    model.keys.observe({
      toDevice: (userId, deviceId, event) => this.feedEach((feed) => feed.onToDevice(userId, deviceId, event)),
      deviceKeysChanged: (userId) => this.feedEach((feed) => feed.onDeviceKeysChanged(userId)),
    });
  }

  add(reg: AppserviceRegistration, legacyAuth: AppserviceAuthStyle): { id: string; senderUserId: string } {
    if (this.links.has(reg.id)) throw new Error(`appservice ${reg.id} already registered`);
    const registration = clone(reg);
    const senderUserId = `@${reg.sender_localpart}:${this.model.serverName}`;
    const feed = new AppserviceE2eeFeed({ registration, senderUserId, ownsUser: (userId) => link.ownsUser(userId) }, this.model,
      e2eeDialect(this.options.appserviceE2ee));
    const link: AppserviceLink = new AppserviceLink(registration, legacyAuth, {
      extras: feed,
      serverName: this.model.serverName,
      txnRetryMs: this.options.txnRetryMs ?? 50,
      txnTimeoutMs: this.options.txnTimeoutMs ?? 10_000,
      records: this.records,
      nextTxnId: () => this.nextTxnId(),
      maxEventsPerTransaction: Math.max(1, this.options.maxEventsPerTransaction ?? Number.POSITIVE_INFINITY),
      onPush: (txnId, events) =>
        notifyObservers(this.observers, (o, now) => o.transactionPush?.({ appserviceId: reg.id, txnId, events }, now)),
      onAnswered: (txnId, events, status) =>
        notifyObservers(this.observers, (o, now) => o.transactionAnswered?.({ appserviceId: reg.id, txnId, events, status }, now)),
    });
    this.links.set(reg.id, link);
    this.feeds.set(reg.id, feed);
    this.model.users.registerAppserviceToken(reg.as_token, reg.id);
    if (!this.model.users.get(link.senderUserId)) this.model.users.create(link.senderUserId, { appserviceId: reg.id });
    return { id: reg.id, senderUserId: link.senderUserId };
  }

  /** Enqueue extra events for the next transaction; with none, retries a failing transaction now. */
  pushEvents(appserviceId: string, events?: ClientEvent[]): void {
    const link = this.link(appserviceId);
    if (events && events.length > 0) link.enqueue(events);
    else link.retryNow();
  }

  /** Push one raw transaction now (outside the serial queue); returns the appservice's answer. */
  async pushTransaction(appserviceId: string, events: ClientEvent[],
    opts: { txnId?: string; hsToken?: string; auth?: AppserviceAuthStyle; extras?: JsonObject }): Promise<PushResult> {
    const link = this.link(appserviceId);
    const result = await link.push(opts.txnId ?? this.nextTxnId(), events, {
      hsToken: opts.hsToken ?? link.registration.hs_token,
      auth: opts.auth ?? link.authStyle,
    }, opts.extras);
    if (result.error !== undefined) throw new Error(`transaction push failed: ${result.error}`);
    return { status: result.status, body: result.body };
  }

  /** Whether the appservice has pushed everything queued (no transaction pending or in flight). */
  idle(appserviceId: string): boolean {
    const link = this.link(appserviceId);
    return !link.busy && link.pendingCount === 0;
  }

  close(): void {
    for (const link of this.links.values()) link.close();
  }

  /**
   * Numbers the next transactions as Synapse 1.67 on SQLite does after its restart: from the highest id still
   * queued (a transaction not yet answered 200; completed ones are deleted), or from 1.
   */
  restartTxnNumbering(): void {
    const queued = [...this.links.values()].map((link) => Number(link.currentTxnId ?? 0)).filter(Number.isFinite);
    this.txnCounter = Math.max(0, ...queued);
  }

  /** Offers a key change or to-device message to every appservice; the ones that queued it push. */
  private feedEach(offer: (feed: AppserviceE2eeFeed) => boolean): void {
    for (const [id, feed] of this.feeds) if (offer(feed)) this.links.get(id)?.kick();
  }

  private nextTxnId(): string {
    return String((this.txnCounter += 1));
  }

  private link(appserviceId: string): AppserviceLink {
    const link = this.links.get(appserviceId);
    if (!link) throw new Error(`unknown appservice ${appserviceId}`);
    return link;
  }
}
