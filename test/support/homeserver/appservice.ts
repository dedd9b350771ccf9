// Application Service API, homeserver side: namespaces, masquerading, and transaction pushes
// (serial per appservice; a failed push is retried with the same txnId and the same events).
import type { TransactionExtras } from "./appservice-e2ee";
import type { Room, StoredEvent } from "./room";
import { clientEvent, inviteState } from "./sync";
import type { AppserviceAuthStyle, AppserviceRegistration, ClientEvent, JsonObject, TransactionRecord } from "./types";
import { clone } from "./types";

export interface AppserviceLinkDeps {
  serverName: string;
  txnRetryMs: number;
  txnTimeoutMs: number;
  records: TransactionRecord[];
  nextTxnId: () => string;
  /** Most events per transaction (the rest wait for the next one). */
  maxEventsPerTransaction: number;
  /** Benchmark instrumentation: each serial push attempt, just before the PUT. */
  onPush?: (txnId: string, events: readonly ClientEvent[]) => void;
  /** Benchmark instrumentation: that attempt was answered (status 0: network error). */
  onAnswered?: (txnId: string, events: readonly ClientEvent[], status: number) => void;
  /** The body's fields besides `events` (to-device messages, device lists, key counts: appservice-e2ee.ts). */
  extras?: TransactionExtras;
}

export interface PushResult {
  status: number;
  body: unknown;
}

const toRegexes = (namespaces: Array<{ regex: string }> | undefined): RegExp[] =>
  (namespaces ?? []).map((ns) => new RegExp(`^(?:${ns.regex})`));

export class AppserviceLink {
  readonly senderUserId: string;
  private readonly userRegexes: RegExp[];
  private readonly aliasRegexes: RegExp[];
  private readonly roomRegexes: RegExp[];
  private pending: ClientEvent[] = [];
  private current: { txnId: string; events: ClientEvent[]; extras?: JsonObject } | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly aborts = new Set<AbortController>();
  private closed = false;

  constructor(
    readonly registration: AppserviceRegistration,
    readonly authStyle: AppserviceAuthStyle,
    private readonly deps: AppserviceLinkDeps,
  ) {
    this.senderUserId = `@${registration.sender_localpart}:${deps.serverName}`;
    this.userRegexes = toRegexes(registration.namespaces.users);
    this.aliasRegexes = toRegexes(registration.namespaces.aliases);
    this.roomRegexes = toRegexes(registration.namespaces.rooms);
  }

  get id(): string {
    return this.registration.id;
  }

  /** Whether a user id is in one of its users namespaces marked exclusive (nobody else may register it). */
  reservesUser(userId: string): boolean {
    return (this.registration.namespaces.users ?? []).some((ns) => ns.exclusive === true && new RegExp(`^(?:${ns.regex})`).test(userId));
  }

  /** The appservice's sender, or a user id in its users namespace. */
  ownsUser(userId: string): boolean {
    return userId === this.senderUserId || this.userRegexes.some((re) => re.test(userId));
  }

  /**
   * Whether the event concerns this appservice, as Synapse 1.67's `is_interested_in_event`: its sender, or (a
   * membership) its state_key, is the appservice's sender or in its users namespace; or the room is in its rooms
   * namespace, or one of the room's aliases in its aliases namespace; or a user of its namespace is *joined* to
   * the room (`get_users_in_room`: an invited one is not enough), in the state the event itself left.
   */
  isInterested(stored: StoredEvent, room: Room, aliases: string[]): boolean {
    const { event } = stored;
    if (this.ownsUser(event.sender)) return true;
    if (event.type === "m.room.member" && event.state_key !== undefined && this.ownsUser(event.state_key)) return true;
    if (this.roomRegexes.some((re) => re.test(room.roomId))) return true;
    if (aliases.some((alias) => this.aliasRegexes.some((re) => re.test(alias)))) return true;
    return room.members("join").some((userId) => this.ownsUser(userId));
  }

  /** Queue events for the next transaction and start pushing if idle. */
  enqueue(events: ClientEvent[]): void {
    for (const e of events) this.pending.push(clone(e));
    this.kick();
  }

  /**
   * A stored event as a fresh ClientEvent copy (clientEvent copies it already). An invite of a user this
   * appservice is interested in carries `unsigned.invite_room_state`, the stripped state Synapse attaches (its
   * prejoin state types and the inviter's membership), as Synapse's appservice API serializes it.
   */
  enqueueStored(stored: StoredEvent, room?: Room): void {
    const event = clientEvent(stored, { withRoomId: true });
    const invitee = event.type === "m.room.member" && event.content["membership"] === "invite" ? event.state_key : undefined;
    if (room && invitee !== undefined && this.ownsUser(invitee)) {
      const state = inviteState(room, invitee).filter((e) => !(e.type === "m.room.member" && e.state_key === invitee));
      event.unsigned = { ...(event.unsigned ?? {}), invite_room_state: state };
    }
    this.pending.push(event);
    this.kick();
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  get busy(): boolean {
    return this.current !== undefined;
  }

  /** The id of the transaction being pushed or retried, if any. */
  get currentTxnId(): string | undefined {
    return this.current?.txnId;
  }

  kick(): void {
    if (this.closed || this.current || (this.pending.length === 0 && this.deps.extras?.pending !== true) || !this.registration.url) return;
    const take = this.pending.length <= this.deps.maxEventsPerTransaction ? this.pending.length : this.deps.maxEventsPerTransaction;
    const events = this.pending.splice(0, take);
    const extras = this.deps.extras?.take(events);
    this.current = { txnId: this.deps.nextTxnId(), events, ...(extras ? { extras } : {}) };
    void this.attempt();
  }

  private async attempt(): Promise<void> {
    const txn = this.current;
    if (!txn || this.closed) return;
    this.deps.onPush?.(txn.txnId, txn.events);
    const result = await this.push(txn.txnId, txn.events, { hsToken: this.registration.hs_token, auth: this.authStyle }, txn.extras);
    if (this.closed) return;
    this.deps.onAnswered?.(txn.txnId, txn.events, result.status);
    // The record shares the pushed events (the link never changes them; tests read them only).
    const record: TransactionRecord = { appserviceId: this.id, txnId: txn.txnId, events: txn.events, status: result.status, at: Date.now() };
    if (result.error !== undefined) record.error = result.error;
    if (txn.extras) record.extras = txn.extras;
    this.deps.records.push(record);
    if (result.status >= 200 && result.status < 300) {
      this.current = undefined;
      this.kick();
      return;
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.attempt();
    }, this.deps.txnRetryMs);
    this.retryTimer.unref();
  }

  /**
   * The appservice now listens at `url` (as when the registration's url is edited and the homeserver restarted):
   * pushes go there from now on, a failing transaction is retried there at once.
   */
  moveTo(url: string): void {
    this.registration.url = url;
    this.retryNow();
    this.kick();
  }

  /** Skip a pending retry wait and retry now (no-op when nothing is failing). */
  retryNow(): void {
    if (!this.retryTimer) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    void this.attempt();
  }

  /** One raw PUT of a transaction; never throws (network errors give status 0). */
  async push(txnId: string, events: ClientEvent[], opts: { hsToken: string; auth: AppserviceAuthStyle },
    extras?: JsonObject): Promise<PushResult & { error?: string }> {
    const base = this.registration.url;
    if (!base) return { status: 0, body: undefined, error: "registration has no url" };
    const url = new URL(`${base.replace(/\/$/, "")}/_matrix/app/v1/transactions/${encodeURIComponent(txnId)}`);
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (opts.auth !== "query") headers["authorization"] = `Bearer ${opts.hsToken}`;
    if (opts.auth !== "header") url.searchParams.set("access_token", opts.hsToken);
    const abort = new AbortController();
    this.aborts.add(abort);
    const timer = setTimeout(() => abort.abort(), this.deps.txnTimeoutMs);
    timer.unref();
    try {
      const response = await fetch(url, { method: "PUT", headers, body: JSON.stringify({ events, ...extras }), signal: abort.signal });
      const text = await response.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text) as JsonObject;
      } catch {
        // not JSON: keep the text
      }
      return { status: response.status, body };
    } catch (error) {
      return { status: 0, body: undefined, error: describeNetworkError(error) };
    } finally {
      clearTimeout(timer);
      this.aborts.delete(abort);
    }
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    for (const abort of this.aborts) abort.abort();
  }
}

/** fetch's error and its cause; duck-typed, since under jest fetch's errors come from another realm (not instanceof Error). */
function describeNetworkError(error: unknown): string {
  const asError = (v: unknown): { message: string; code?: unknown; cause?: unknown } | undefined =>
    typeof v === "object" && v !== null && typeof (v as { message?: unknown }).message === "string" ? (v as { message: string }) : undefined;
  const outer = asError(error);
  if (!outer) return String(error);
  const cause = asError(outer.cause);
  const detail = cause ? (typeof cause.code === "string" ? cause.code : cause.message) : undefined;
  return detail ? `${outer.message}: ${detail}` : outer.message;
}
