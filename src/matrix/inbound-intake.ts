// Between the homeserver's batches and the router: no event can hold the others, and refusals are counted.
// A batch whose handling throws is refused (the homeserver sends it again: a transaction retried, a sync token not
// advanced). After `splitAfter` refusals in a row, the next attempt takes the batch one item at a time: an event
// that fails on its own while the store passes its health check is a poison item (skipped, logged, counted) and
// the rest is acknowledged. When the store fails its check as well (an outage: every event fails), the batch is
// refused as before, so nothing is acknowledged that was not stored.
import type { Logger } from "pino";
import type { InboundBatchOptions, InboundBatchResult, InboundItem } from "./events";
import type { PoisonItem } from "./journal";

export interface InboundIntakeOptions {
  /** Makes a batch durable (the router's onBatch); throws when it could not. */
  handle: (items: InboundItem[], opts?: InboundBatchOptions) => Promise<InboundBatchResult>;
  /** Resolves when the store reads and writes (Store.healthCheck), rejects when it does not. */
  storeWorks: () => Promise<void>;
  log: Logger;
  /** Refusals in a row after which a batch is taken one item at a time. Default 3. */
  splitAfter?: number;
  /** Hooks for metrics and readiness. */
  onPoisoned?: (item: PoisonItem) => void;
  onRefused?: () => void;
  onAccepted?: () => void;
}

export interface InboundRefusalCounts {
  /** Events skipped because they could not be stored. */
  poisonedEvents: number;
  /** Batches answered with a refusal (the homeserver sends them again). */
  refusedBatches: number;
}

export class InboundIntake {
  private refusalsInARow = 0;
  private readonly counts: InboundRefusalCounts = { poisonedEvents: 0, refusedBatches: 0 };

  constructor(private readonly opts: InboundIntakeOptions) {}

  /**
   * Handles a batch; throws (refusing it) only when it could not be stored as a whole. Taken item by item, the batch
   * carries nothing alongside its journal writes (`opts` is not passed on: its acknowledgement is written after it).
   */
  async onBatch(items: InboundItem[], opts?: InboundBatchOptions): Promise<InboundBatchResult> {
    if (this.refusalsInARow >= (this.opts.splitAfter ?? 3)) return this.oneByOne(items);
    let result: InboundBatchResult;
    try {
      result = await this.opts.handle(items, opts);
    } catch (error) {
      this.refused();
      throw error;
    }
    this.accepted();
    return result;
  }

  /** An event skipped because it cannot be stored (found by the journal or by oneByOne). */
  poisoned(item: PoisonItem): void {
    this.counts.poisonedEvents += 1;
    this.opts.log.warn({ roomId: item.roomId, eventId: item.eventId, reason: item.reason }, "inbound event could not be stored; skipped");
    this.opts.onPoisoned?.(item);
  }

  /** A batch refused before it reached onBatch (e.g. an appservice transaction whose id could not be looked up). */
  refusedUnseen(): void {
    this.refused();
  }

  stats(): InboundRefusalCounts {
    return { ...this.counts };
  }

  private async oneByOne(items: InboundItem[]): Promise<InboundBatchResult> {
    this.opts.log.warn({ items: items.length, refusals: this.refusalsInARow },
      "inbound batch refused repeatedly; taking its events one by one");
    let journaled = 0;
    const failed: Array<{ item: InboundItem; error: unknown }> = [];
    for (const item of items) {
      try {
        journaled += (await this.opts.handle([item])).journaled;
      } catch (error) {
        failed.push({ item, error });
      }
    }
    const [first] = failed;
    if (first) {
      const storeWorks = await this.opts.storeWorks().then(() => true, () => false);
      if (!storeWorks) {
        this.refused();
        throw first.error; // an outage: every event fails, and nothing may be acknowledged
      }
      for (const { item, error } of failed) this.poisoned({ ...identify(item), reason: describe(error) });
    }
    this.accepted();
    return { journaled };
  }

  private refused(): void {
    this.refusalsInARow += 1;
    this.counts.refusedBatches += 1;
    this.opts.onRefused?.();
  }

  private accepted(): void {
    this.refusalsInARow = 0;
    this.opts.onAccepted?.();
  }
}

function identify(item: InboundItem): { roomId: string; eventId: string } {
  switch (item.kind) {
    case "event":
      return { roomId: item.event.room_id, eventId: item.event.event_id };
    case "invite":
      return { roomId: item.invite.roomId, eventId: "(invite)" };
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
