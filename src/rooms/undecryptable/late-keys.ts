// Encrypted messages the bot could not read: counted by cause, kept (HeldEvents) and read again when their room key
// arrives late, then answered once through the normal journal path; the one notice per room is withdrawn by an edit
// once nothing in the room waits any more.
//
// Crash safety, in this order: the event is held before its journal entry is completed; when its key comes, the clear
// event is reopened in the journal (once per event, see Journal.reopen), then the notice is withdrawn (idempotent
// txnId), then the event is let go. A crash anywhere in between leaves it held, and the sweep at the next start
// finishes the steps: reopen says "already", so the journal (not this) answers it, exactly once.
import type { Logger } from "pino";
import type { UndecryptableCause } from "../../matrix/crypto/decrypt-cause";
import type { RoomEvent } from "../../matrix/events";
import { checkpoint } from "../../util/checkpoints";
import type { HeldEvents, HeldRef } from "./held-events";

/** What the crypto device offers (CryptoRuntime fits). */
export interface LateDecryptor {
  redecrypt(event: RoomEvent): Promise<{ ok: true; event: RoomEvent } | { ok: false; cause: UndecryptableCause }>;
  onRoomKeys(listener: (keys: Array<{ roomId: string; sessionId: string }>) => void): void;
}

export interface LateKeysDeps {
  /** Absent without MATRIX_E2EE: nothing can be read later; only the notice. */
  crypto: LateDecryptor | undefined;
  held: HeldEvents;
  notice: { onUnreadable(roomId: string): Promise<void>; withdraw(roomId: string): Promise<boolean> };
  journal: { reopen(event: RoomEvent): Promise<boolean> };
  /** Runs `work` in the room's order (after its earlier events); the event it returns is routed as a new one. */
  routeLater(roomId: string, work: () => Promise<RoomEvent | undefined>): void;
  metrics: { undecryptable(cause: UndecryptableCause): void; lateDecrypted(): void; held(count: number): void };
  log: Logger;
  /** How often expired messages are dropped (default: every 10 minutes). */
  expiryCheckMs?: number;
}

const expiryCheckMs = 600_000;

export class LateKeys {
  private expiry: NodeJS.Timeout | undefined;

  constructor(private readonly deps: LateKeysDeps) {}

  stop(): void {
    clearInterval(this.expiry);
  }

  /**
   * Loads what is held, listens for room keys, and retries every held event once (a key may have come while the bot
   * was down, or a crash cut a late answer short). Call after the journal's recovery, before events come in.
   */
  async start(): Promise<void> {
    const { crypto, held } = this.deps;
    await held.load();
    this.deps.metrics.held(held.size);
    if (!crypto) return;
    // What waited too long is dropped (and counted) even when nothing else happens.
    this.expiry = setInterval(() => {
      void held.expire().then(() => this.deps.metrics.held(held.size))
        .catch((e: unknown) => this.deps.log.warn({ err: String(e) }, "expiring unreadable messages failed"));
    }, this.deps.expiryCheckMs ?? expiryCheckMs);
    this.expiry.unref();
    crypto.onRoomKeys((keys) => {
      for (const key of keys) for (const ref of held.matching(key.roomId, key.sessionId)) this.retryLater(ref);
    });
    for (const ref of held.all()) this.retryLater(ref);
  }

  /**
   * An allowed user's encrypted event the bot cannot read (routed in its room's order). Returns the clear event when it
   * can be read now after all (its key came meanwhile): route that instead. Else it is held, counted, and the room
   * gets its notice.
   */
  async onUnreadable(event: RoomEvent): Promise<RoomEvent | undefined> {
    const { crypto, held, metrics } = this.deps;
    if (!crypto) {
      metrics.undecryptable("encryption_off");
      await this.deps.notice.onUnreadable(event.room_id);
      return undefined;
    }
    const again = await crypto.redecrypt(event);
    if (again.ok) return again.event;
    const known = held.has({ roomId: event.room_id, eventId: event.event_id }); // routed again after a restart
    if (!known) metrics.undecryptable(again.cause);
    await held.hold(event);
    metrics.held(held.size);
    await this.deps.notice.onUnreadable(event.room_id);
    return undefined;
  }

  private retryLater(ref: HeldRef): void {
    this.deps.routeLater(ref.roomId, () => this.retry(ref));
  }

  /** Reads a held event again; the clear event to route when it is reopened now (once), else undefined. */
  private async retry(ref: HeldRef): Promise<RoomEvent | undefined> {
    const { crypto, held, log } = this.deps;
    if (!crypto || !held.has(ref)) return undefined; // read by an earlier retry
    const event = await held.event(ref);
    if (!event) {
      await held.release(ref);
      this.deps.metrics.held(held.size);
      return undefined;
    }
    const clear = await crypto.redecrypt(event);
    if (!clear.ok) return undefined; // a key of the same session that starts later: it stays held
    const reopened = await this.deps.journal.reopen(clear.event);
    if (reopened) {
      checkpoint("late-key-reopened");
      this.deps.metrics.lateDecrypted();
      log.info({ roomId: ref.roomId, eventId: ref.eventId, waitedMs: Date.now() - ref.heldAt }, "read a message whose room key came late");
    }
    if (held.othersInRoom(ref.roomId, ref.eventId) === 0) await this.deps.notice.withdraw(ref.roomId);
    await held.release(ref);
    this.deps.metrics.held(held.size);
    return reopened ? clear.event : undefined;
  }
}
