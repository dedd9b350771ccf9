// Outgoing, wired: every room message through the durable outbox (encrypted first where the room is); typing and
// receipts are cosmetic and go straight to the sender. Dead letters are counted and announced in their room.
import type { Logger } from "pino";
import type { Timings } from "../config/variables";
import { childLogger } from "../log";
import type { MatrixRequestError } from "../matrix/errors";
import type { MatrixHttp } from "../matrix/http";
import type { CryptoRuntime } from "../matrix/crypto";
import { MatrixSender, type RoomMessageSender } from "../matrix/sender";
import type { Metrics } from "../metrics";
import { Outbox } from "../outbox";
import { DeadLetterAnnouncer } from "../outbox/dead-letter-announcer";
import type { UnrecordedCheck } from "../outbox/unrecorded";
import type { RateLimitGate } from "../render/pacing";
import type { Store } from "../store";

export interface OutgoingDeps {
  userId: string;
  http: MatrixHttp;
  store: Store;
  crypto: CryptoRuntime | undefined;
  timings: Timings;
  metrics: Metrics;
  /** Fed with every retry_after_ms the sender waits (live edits wait for it too). */
  gate: RateLimitGate;
  onTokenRejected: (error: MatrixRequestError) => void;
  /** The txnIds of fresh runs (src/outbox/unrecorded.ts): recorded without a read first. */
  unrecorded?: UnrecordedCheck;
  /** Registers what runs at stop (in the app's order). */
  onStop: (cleanup: () => Promise<void> | void) => void;
  log: Logger;
}

export interface Outgoing {
  sender: MatrixSender;
  outbox: Outbox;
  messages: RoomMessageSender;
  /** Where dead letters are announced (ADMIN_ROOM, once resolved). */
  announcer: DeadLetterAnnouncer;
}

export function wireOutgoing(deps: OutgoingDeps): Outgoing {
  const { timings: t, metrics, log } = deps;
  const sender = new MatrixSender(deps.http, {
    userId: deps.userId, retryBaseMs: t.retryBaseMs, retryMaxMs: t.retryMaxMs, maxAttempts: t.sendMaxAttempts, onTokenRejected: deps.onTokenRejected,
    onRetry: (reason) => metrics.sendRetried(reason),
    onRateLimited: (ms) => {
      metrics.rateLimitWaited(ms);
      deps.gate.note(ms);
    },
  }, childLogger(log, "sender"));
  let announcer: DeadLetterAnnouncer | undefined = undefined;
  const outbox = new Outbox({ store: deps.store, sender: deps.crypto ? deps.crypto.wrapSender(sender) : sender, log: childLogger(log, "outbox"),
    concurrency: t.sendConcurrency, proactiveConcurrency: t.fanoutConcurrency, ...(deps.unrecorded ? { unrecorded: deps.unrecorded } : {}),
    onDeadLetter: (entry) => {
      metrics.deadLettered();
      return announcer?.announce(entry);
    } });
  const depth = setInterval(() => metrics.outboxDepth(outbox.stats().pending), 1000);
  depth.unref();
  deps.onStop(() => clearInterval(depth));
  const announcing = new DeadLetterAnnouncer((entries) => outbox.enqueue(entries), childLogger(log, "outbox"));
  announcer = announcing;
  deps.onStop(async () => {
    const drained = outbox.drain(); // in-flight sends cut short stay pending for the next start
    sender.stop();
    await drained;
  });
  const messages: RoomMessageSender = {
    sendEvent: (roomId, type, content, txnId, asUser) => outbox.send(roomId, type, content, txnId, { kind: "reply" }, asUser),
    setTyping: (roomId, typing, timeoutMs, asUser) => sender.setTyping(roomId, typing, timeoutMs, asUser),
    sendReadReceipt: (roomId, eventId) => sender.sendReadReceipt(roomId, eventId),
  };
  return { sender, outbox, messages, announcer: announcing };
}
