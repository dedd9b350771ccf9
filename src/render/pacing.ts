// How often a live message is edited: at most one edit per `editIntervalMs`, one per `slowEditIntervalMs` once
// the answer is long (every edit carries the whole text again), never before the homeserver's last
// retry_after_ms has passed (RateLimitGate, fed by the sender), at most `maxEdits` edits per message.
export interface LiveOptions {
  /** Shortest time between two edits of one message. Default 1 s. */
  editIntervalMs: number;
  /** The same, once the answer is longer than `longAnswerChars`. Default 3 s. */
  slowEditIntervalMs: number;
  /** Edits of one Matrix message at most, its final edit included. Default 50. */
  maxEdits: number;
  /** From this length (UTF-16 units of the whole answer) on, edits slow down. Default 4,000. */
  longAnswerChars: number;
  /**
   * How long an agent message's first visible text waits before it is posted live: an answer complete by then (an
   * agent that writes it in one burst) is posted whole, one event instead of an event and its final edit. Default
   * 50 ms (nothing a reader notices; a model's answer streams for seconds).
   */
  firstPostHoldMs?: number;
}

export const LIVE_DEFAULTS: LiveOptions = { editIntervalMs: 1_000, slowEditIntervalMs: 3_000, maxEdits: 50, longAnswerChars: 4_000, firstPostHoldMs: 50 };

/**
 * Edits of one message the live renderer sends while it is written: two of `maxEdits` stay for the end (the
 * final edit, and the "(interrupted)" edit a restart may have to send first).
 */
export function intermediateEdits(options: LiveOptions): number {
  return Math.max(0, options.maxEdits - 2);
}

/** When the next edit of a message may go: `lastSentAt` plus the interval its length asks for, and the gate. */
export function nextEditAt(lastSentAt: number, answerChars: number, options: LiveOptions, gate: RateLimitGate): number {
  const interval = answerChars > options.longAnswerChars ? options.slowEditIntervalMs : options.editIntervalMs;
  return Math.max(lastSentAt + interval, gate.notBefore);
}

/** The last rate limit the homeserver set (retry_after_ms), for cosmetic sends that can wait. */
export class RateLimitGate {
  private until = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** A request was refused with 429 and `waitMs` to wait (from now). */
  note(waitMs: number): void {
    this.until = Math.max(this.until, this.now() + Math.max(0, waitMs));
  }

  /** Nothing cosmetic goes before this time (ms since the epoch). */
  get notBefore(): number {
    return this.until;
  }
}
