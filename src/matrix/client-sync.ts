// Client mode's own sync loop (not the SDK's: it saves the token before emitting and ignores gaps and the
// state block). Each batch is handed to `onBatch`, which makes it durable; only then is next_batch saved. Without
// encryption the token goes alongside the batch's journal writes where the store allows (InboundBatchOptions: in
// their commit, never durable without them); with encryption after the crypto store is saved (afterBatch). Without
// encryption, the token of a batch with no item (typing, receipts: nothing in a timeline, no state, no invite) is
// kept in memory only, unless it is the first one ever: a start from the last saved token gets nothing more to act on
// (no commit per typing sync).
import type { Logger } from "pino";
import { MatrixRequestError } from "./errors";
import { inviteFromMemberEvent, parseRoomEvent, viaFor, type InboundBatchOptions, type InboundItem, type InviteNotice, type RoomEvent } from "./events";
import type { MatrixHttp } from "./http";
import { fullJitterBackoff, sleep } from "../util/timers";
import { fillTimelineGap } from "./gap-fill";

export interface SyncTokenStore {
  load(): Promise<string | undefined>;
  save(token: string): Promise<void>;
}

/**
 * End-to-end encryption in the sync loop (MATRIX_E2EE=true). `beforeBatch` gets the whole response (to-device
 * events, device lists, one-time key counts) before any room event; state events go to `onStateEvent`;
 * `m.room.encrypted` timeline events are replaced by `decrypt`'s clear event (same event_id), or stay as they
 * are when undecryptable (the router then posts its one notice per room); `afterBatch` saves the crypto store
 * after the batch was handled and before the sync token moves past it.
 */
export interface SyncCryptoHook {
  beforeBatch(res: unknown): Promise<void>;
  onStateEvent(event: RoomEvent): Promise<void>;
  decrypt(event: RoomEvent): Promise<RoomEvent | "undecryptable">;
  afterBatch(): Promise<void>;
}

export interface ClientSyncOptions {
  userId: string;
  syncTimeoutMs: number;
  requestTimeoutMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  gapFillMaxEvents: number;
  timelineLimit?: number;
  random?: () => number;
  /** Whether an event is already journaled; gap filling stops there. */
  isKnown: (roomId: string, eventId: string) => Promise<boolean>;
  onBatch: (items: InboundItem[], opts?: InboundBatchOptions) => Promise<unknown>;
  onTokenRejected: (error: MatrixRequestError) => void;
  /** Each successful /sync (readiness: the homeserver answered). */
  onSyncOk?: () => void;
  crypto?: SyncCryptoHook;
}

interface SyncRoom {
  timeline?: { events?: unknown[]; limited?: boolean; prev_batch?: string };
  state?: { events?: unknown[] };
}
interface SyncResponse {
  next_batch: string;
  account_data?: { events?: unknown[] };
  rooms?: {
    join?: Record<string, SyncRoom>;
    invite?: Record<string, { invite_state?: { events?: unknown[] } }>;
    leave?: Record<string, SyncRoom>;
  };
}

export class ClientSync {
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(private readonly http: MatrixHttp, private readonly tokens: SyncTokenStore,
    private readonly opts: ClientSyncOptions, private readonly log: Logger) {}

  /** Starts the loop in the background; resolves after the first batch has been handled. */
  async start(): Promise<void> {
    let first!: () => void;
    const firstBatch = new Promise<void>((resolve) => (first = resolve));
    this.loop = this.run(first).catch((e: unknown) => this.log.error({ err: String(e) }, "sync loop ended unexpectedly"));
    await Promise.race([firstBatch, this.loop]);
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    // The long poll in flight is not awaited: its answer is dropped, and its token was never saved.
  }

  private get filter(): string {
    return JSON.stringify({
      room: { timeline: { limit: this.opts.timelineLimit ?? 50 }, state: { lazy_load_members: false } },
      presence: { not_types: ["*"] },
    });
  }

  private async run(firstDone: () => void): Promise<void> {
    let since = await this.tokens.load();
    let failures = 0;
    // The first batch of a start catches up at once (timeout 0): start() waits for it, and a long poll would hold
    // the start (and readiness) until something happened in some room, or for the whole MATRIX_SYNC_TIMEOUT_MS.
    let caughtUp = false;
    while (!this.stopping.signal.aborted) {
      try {
        const res = await this.http.request<SyncResponse>("GET", "/_matrix/client/v3/sync", {
          query: { since, timeout: since === undefined || !caughtUp ? 0 : this.opts.syncTimeoutMs, filter: this.filter },
          timeoutMs: this.opts.syncTimeoutMs + this.opts.requestTimeoutMs,
        });
        if (this.stopping.signal.aborted) return;
        this.opts.onSyncOk?.();
        await this.opts.crypto?.beforeBatch(res);
        const items = await this.itemsOf(res, since === undefined);
        const token = typeof res.next_batch === "string" ? res.next_batch : undefined;
        const saving = this.tokenAlongside(token);
        await this.opts.onBatch(items, saving.options);
        await this.opts.crypto?.afterBatch();
        if (token !== undefined) {
          // (The first token ever is kept whatever came: history before it is not answered.)
          if (saving.written !== undefined || items.length > 0 || since === undefined || this.opts.crypto) await (saving.written ?? this.tokens.save(token));
          since = token;
        }
        failures = 0;
        caughtUp = true;
        firstDone();
      } catch (e) {
        if (e instanceof MatrixRequestError && e.kind === "unknown_token") {
          this.opts.onTokenRejected(e);
          return;
        }
        failures += 1;
        const waitMs = Math.max(1, fullJitterBackoff(failures, this.opts.retryBaseMs, this.opts.retryMaxMs, this.opts.random));
        const error = e instanceof MatrixRequestError ? e.describe() : String(e);
        this.log.warn({ error, failures, waitMs }, "sync batch failed; the token was not advanced, retrying");
        await sleep(waitMs, this.stopping.signal);
      }
    }
  }

  /** The token saved alongside the batch's journal writes (`written` once asked), without encryption. */
  private tokenAlongside(token: string | undefined): { options: InboundBatchOptions | undefined; written: Promise<void> | undefined } {
    const saving = { options: undefined as InboundBatchOptions | undefined, written: undefined as Promise<void> | undefined };
    if (token === undefined || this.opts.crypto) return saving;
    saving.options = { alongside: () => {
      saving.written = this.tokens.save(token);
      saving.written.catch(() => undefined); // its commit is the journal's: a failure fails the batch (awaited after it)
    } };
    return saving;
  }

  /** Flattens a sync response into inbound items: invites, state, then timeline, per room. */
  private async itemsOf(res: SyncResponse, initial: boolean): Promise<InboundItem[]> {
    const items: InboundItem[] = [];
    for (const [roomId, room] of Object.entries(res.rooms?.invite ?? {})) {
      const invite = this.inviteOf(roomId, room.invite_state?.events ?? []);
      if (invite) items.push({ kind: "invite", invite });
    }
    for (const section of [res.rooms?.join, res.rooms?.leave]) {
      for (const [roomId, room] of Object.entries(section ?? {})) {
        for (const event of this.parseAll(roomId, room.state?.events ?? [])) items.push({ kind: "event", event, snapshot: true });
        let timeline = this.parseAll(roomId, room.timeline?.events ?? []);
        if (initial) {
          // History from before this bot's first start is not answered; state still matters.
          timeline = timeline.filter((e) => e.state_key !== undefined);
        } else if (room.timeline?.limited && room.timeline.prev_batch && !containsJoinOf(timeline, this.opts.userId)) {
          // (When the bot's own join is in this timeline, everything older predates the bot: no gap to fill.)
          const missed = await fillTimelineGap(this.http, roomId, room.timeline.prev_batch, timeline, {
            userId: this.opts.userId, maxEvents: this.opts.gapFillMaxEvents, isKnown: this.opts.isKnown, log: this.log,
          });
          timeline = [...missed, ...timeline];
        }
        if (this.opts.crypto) timeline = await this.withCrypto(this.opts.crypto, room.state?.events ?? [], roomId, timeline);
        for (const event of dropBeforeOwnJoin(timeline, this.opts.userId)) items.push({ kind: "event", event });
      }
    }
    return items;
  }

  /** State to the crypto hook first (room encryption, members to track), then the timeline decrypted in order. */
  private async withCrypto(crypto: SyncCryptoHook, stateRaws: unknown[], roomId: string, timeline: RoomEvent[]): Promise<RoomEvent[]> {
    const state = [...this.parseAll(roomId, stateRaws), ...timeline.filter((e) => e.state_key !== undefined)];
    for (const event of state) await crypto.onStateEvent(event).catch((e: unknown) => this.log.warn({ roomId, err: String(e) }, "crypto state update failed"));
    const out: RoomEvent[] = [];
    for (const event of timeline) {
      if (event.type !== "m.room.encrypted" || event.state_key !== undefined) {
        out.push(event);
        continue;
      }
      const clear = await crypto.decrypt(event).catch(() => "undecryptable" as const);
      out.push(clear === "undecryptable" ? event : clear);
    }
    return out;
  }

  private parseAll(roomId: string, raws: unknown[]): RoomEvent[] {
    const out: RoomEvent[] = [];
    for (const raw of raws) {
      const parsed = parseRoomEvent(raw, roomId);
      if (parsed.ok) out.push(parsed.event);
      else this.log.warn({ roomId, reason: parsed.reason }, "malformed event skipped");
    }
    return out;
  }

  private inviteOf(roomId: string, raws: unknown[]): InviteNotice | undefined {
    let roomType: string | undefined;
    let invite: InviteNotice | undefined;
    for (const raw of raws) {
      if (typeof raw !== "object" || raw === null) continue;
      const stripped = raw as { type?: unknown; state_key?: unknown; sender?: unknown; content?: Record<string, unknown> };
      if (stripped.type === "m.room.create" && typeof stripped.content?.["type"] === "string") roomType = stripped.content["type"];
      const parsed = parseRoomEvent({ event_id: `$invite-state`, ...stripped }, roomId);
      if (parsed.ok) invite = inviteFromMemberEvent(parsed.event, this.opts.userId) ?? invite;
    }
    if (!invite) return undefined;
    return { ...invite, roomType, via: viaFor(roomId, invite.inviter) };
  }
}

function containsJoinOf(timeline: RoomEvent[], userId: string): boolean {
  return timeline.some((e) => e.type === "m.room.member" && e.state_key === userId && e.content["membership"] === "join");
}

/** Messages that precede the bot's own join in the same timeline were sent before it was there. */
export function dropBeforeOwnJoin(timeline: RoomEvent[], userId: string): RoomEvent[] {
  const joinAt = timeline.findIndex((e) => e.type === "m.room.member" && e.state_key === userId && e.content["membership"] === "join");
  if (joinAt <= 0) return timeline;
  return timeline.filter((e, i) => i >= joinAt || e.state_key !== undefined);
}
