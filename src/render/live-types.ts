// The parts of a live message that others share: what it needs (LiveContext), the Matrix message being edited
// (Segment), and what a stored record shows (shownBy).
import type { Logger } from "pino";
import type { SendResult } from "../matrix/sender";
import type { ReplyTarget } from "../turns/reply-content";
import { interruptedText, type Content } from "./live-content";
import type { LiveRecord, LiveStore } from "./live-store";
import type { LiveOptions, RateLimitGate } from "./pacing";

export interface LiveContext {
  target: ReplyTarget;
  runId: string;
  encrypted: boolean;
  store: LiveStore;
  gate: RateLimitGate;
  options: LiveOptions;
  log: Logger;
  /** Sends an m.room.message content through the outbox. */
  send(content: Content, txnId: string): Promise<SendResult>;
  /** The same for an intermediate edit: dropped when it cannot be delivered (no dead letter). Default `send`. */
  sendLive?(content: Content, txnId: string): Promise<SendResult>;
  /** The deterministic txnId of a part of this run's answer. */
  txn(part: string): string;
  now?: () => number;
  /** An earlier answer's message to edit instead of posting a new one (an answer given again), if one is left. */
  takeOver?: () => string | undefined;
  /** Each Matrix message that shows part of the answer, once: posted, or taken over. */
  onShown?: (eventId: string) => void;
  /** Awaited before a live message's record is written ahead of its send (its run's record goes first: record-gate.ts). */
  beforeRecord?: () => Promise<void>;
}

/** The Matrix message being edited. */
export interface Segment {
  key: string;
  eventId: string;
  edits: number;
  /** Its record in the LiveStore, as last saved. */
  record?: LiveRecord;
  /** The markdown it shows (as last sent). */
  shown: string;
  /** What it shows, its work view included (keyOf), as last sent; absent: `shown`. */
  shownKey?: string;
  /** Out of edits: the last view checked for size only (it waits for the final edit). */
  checked?: string;
  sentAt: number;
  /** The first Matrix message of this agent message: it replies and mentions. */
  first: boolean;
}

/** What the message of a record shows: its text, and "(interrupted)" once the recovery ended it. */
export function shownBy(record: LiveRecord): string {
  return record.interruptedAt === undefined ? record.text : interruptedText(record.text);
}
