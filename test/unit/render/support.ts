// Test support for the live renderer: a room that records what the outbox would send (event ids assigned in
// order, a txnId sent twice gets the same event id back, as a homeserver answers), and a live context over it.
import Keyv from "keyv";
import pino from "pino";
import type { SendResult } from "../../../src/matrix/sender";
import type { LiveContext } from "../../../src/render/live-message";
import { LiveStore } from "../../../src/render/live-store";
import { LIVE_DEFAULTS, RateLimitGate, type LiveOptions } from "../../../src/render/pacing";
import type { ReplyTarget } from "../../../src/turns/reply-content";
import { foldEdits } from "../../support/bot-messages";
import { waitFor } from "../../support/wait";

export const silent = pino({ level: "silent" });
export const dm: ReplyTarget = { roomId: "!room:x", eventId: "$asked", sender: "@alice:x", isDirect: true };

export interface SentEvent {
  event_id: string;
  sender: string;
  txnId: string;
  content: Record<string, unknown>;
}

export class RecordingRoom {
  readonly events: SentEvent[] = [];
  private readonly byTxn = new Map<string, string>();
  /** Each send waits this long (a slow homeserver). */
  delayMs = 0;

  async send(content: Record<string, unknown>, txnId: string): Promise<SendResult> {
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    const known = this.byTxn.get(txnId);
    if (known !== undefined) return { ok: true, eventId: known, attempts: 1 };
    const eventId = `$e${this.events.length}`;
    this.byTxn.set(txnId, eventId);
    this.events.push({ event_id: eventId, sender: "@bot:x", txnId, content });
    return { ok: true, eventId, attempts: 1 };
  }

  /** Messages with their edits applied (see test/support/bot-messages.ts). */
  messages(): ReturnType<typeof foldEdits<SentEvent>> {
    return foldEdits(this.events);
  }
}

export function liveContext(room: RecordingRoom, over: Partial<Omit<LiveContext, "options">> & { options?: Partial<LiveOptions> } = {}): LiveContext {
  const { options, ...rest } = over;
  return {
    target: dm, runId: "$run", encrypted: false, store: new LiveStore(new Keyv(), silent), gate: new RateLimitGate(),
    log: silent, txn: (part) => `txn.${part}`, send: (content, txnId) => room.send(content, txnId),
    ...rest,
    options: { ...LIVE_DEFAULTS, editIntervalMs: 0, slowEditIntervalMs: 0, firstPostHoldMs: 0, ...options },
  };
}

/** Polls `cond` until it holds (deadline scaled by TEST_TIME_SCALE). */
export async function waitUntil(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  await waitFor(cond, { what, timeoutMs, intervalMs: 5 });
}
