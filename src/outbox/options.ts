// The outbox's constructor options and their production defaults.
import type { Logger } from "pino";
import type { RoomMessageSender } from "../matrix/sender";
import type { Store } from "../store";
import type { DeadLetter } from "./records";
import type { UnrecordedCheck } from "./unrecorded";

const DAY_MS = 24 * 3600 * 1000;

export interface OutboxOptions {
  store: Store;
  sender: Pick<RoomMessageSender, "sendEvent">;
  log: Logger;
  /** Sends in flight at most, across the whole outbox (and never more than one per room). */
  concurrency: number;
  /** Of those, proactive fan-out sends at most (the rest stay free for replies). Default: `concurrency`. */
  proactiveConcurrency?: number;
  /** Called once per new dead letter (the app announces it in ADMIN_ROOM). Errors are logged, never thrown. */
  onDeadLetter?: (entry: DeadLetter) => void | Promise<void>;
  now?: () => number;
  /** How long dead letters are kept for /status and `/outbox retry`. Default 30 days. */
  deadLetterTtlMs?: number;
  /** How long a txnId stays known as sent (a re-enqueue within it is not sent again). Default 7 days. */
  sentTtlMs?: number;
  /** Interactive picks in a row before one waiting proactive room goes. Default 4. */
  interactiveBurst?: number;
  /** Keys per store read / write batch. Default 200. */
  storeBatchSize?: number;
  /** txnIds nothing can be recorded under yet (a fresh run's: unrecorded.ts): recorded without a read first. Default none. */
  unrecorded?: UnrecordedCheck;
}

export type ResolvedOutboxOptions = Required<Omit<OutboxOptions, "onDeadLetter">> & Pick<OutboxOptions, "onDeadLetter">;

export function resolveOutboxOptions(opts: OutboxOptions): ResolvedOutboxOptions {
  if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) throw new RangeError("outbox concurrency must be a positive integer");
  const proactiveConcurrency = opts.proactiveConcurrency ?? opts.concurrency;
  if (!Number.isInteger(proactiveConcurrency) || proactiveConcurrency < 1) throw new RangeError("outbox proactive concurrency must be a positive integer");
  return {
    ...opts,
    proactiveConcurrency,
    now: opts.now ?? Date.now,
    deadLetterTtlMs: opts.deadLetterTtlMs ?? 30 * DAY_MS,
    sentTtlMs: opts.sentTtlMs ?? 7 * DAY_MS,
    interactiveBurst: opts.interactiveBurst ?? 4,
    storeBatchSize: opts.storeBatchSize ?? 200,
    unrecorded: opts.unrecorded ?? { covers: () => false },
  };
}
