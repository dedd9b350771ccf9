// SendResults the outbox makes itself (nothing was sent, or the outcome was decided earlier), and errors.
import { MatrixRequestError } from "../matrix/errors";
import type { SendResult } from "../matrix/sender";
import type { DeadLetter, OutboxEntryInput } from "./records";

export type Failure = Extract<SendResult, { ok: false }>;

/** enqueue/retryDead after drain(): the caller must not treat the message as accepted. */
export class OutboxStoppedError extends Error {
  override readonly name = "OutboxStoppedError";
  readonly userMessage = "The bot is shutting down; please try again in a moment.";
  constructor() {
    super("the outbox is stopped (drain() was called); nothing was recorded");
  }
}

/** The store did not record the entries; the caller must not acknowledge whatever produced them. */
export class OutboxStoreError extends Error {
  override readonly name = "OutboxStoreError";
  readonly userMessage = "The bot's storage is unavailable right now; please try again later.";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export function stoppedResult(): Failure {
  return {
    ok: false, permanent: false, attempts: 0,
    error: new MatrixRequestError("network", undefined, undefined,
      "outbox stopped before sending; the message stays pending for the next start", undefined),
  };
}

export function invalidEntryResult(detail: string): Failure {
  return {
    ok: false, permanent: true, attempts: 0,
    error: new MatrixRequestError("client", undefined, undefined, `outbox: invalid entry: ${detail}`, undefined),
  };
}

export function unrecordedResult(): Failure {
  return {
    ok: false, permanent: false, attempts: 0,
    error: new MatrixRequestError("network", undefined, undefined, "outbox: the store could not be read", undefined),
  };
}

/** The outcome a dead letter stands for, as the sender would have reported it. */
export function deadResult(letter: DeadLetter): Failure {
  const error = new MatrixRequestError(letter.errorKind ?? "client", letter.status, letter.errcode, letter.reason, undefined);
  return { ok: false, error, permanent: letter.permanent, attempts: letter.attempts };
}

/** The reason and fields a dead letter keeps from a failed send. */
export function failureFields(result: Failure): Pick<DeadLetter, "reason" | "permanent" | "attempts" | "errorKind" | "status" | "errcode"> {
  const { error } = result;
  return {
    reason: error.describe(), permanent: result.permanent, attempts: result.attempts, errorKind: error.kind,
    ...(error.status !== undefined ? { status: error.status } : {}),
    ...(error.errcode !== undefined ? { errcode: error.errcode } : {}),
  };
}

export function inputOf(letter: DeadLetter): OutboxEntryInput {
  return {
    roomId: letter.roomId, type: letter.type, content: letter.content, txnId: letter.txnId,
    ...(letter.origin ? { origin: letter.origin } : {}),
  };
}

export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** send() callers waiting for the outcome of a txnId. */
export class Waiters {
  private readonly byTxnId = new Map<string, Array<(result: SendResult) => void>>();

  wait(txnId: string): Promise<SendResult> {
    return new Promise((resolve) => {
      const list = this.byTxnId.get(txnId);
      if (list) list.push(resolve);
      else this.byTxnId.set(txnId, [resolve]);
    });
  }

  /** Resolves everyone waiting for txnId (a later settle of the same txnId is a no-op). */
  settle(txnId: string, result: SendResult): void {
    const list = this.byTxnId.get(txnId);
    if (!list) return;
    this.byTxnId.delete(txnId);
    for (const resolve of list) resolve(result);
  }

  settleAll(result: SendResult): void {
    for (const txnId of [...this.byTxnId.keys()]) this.settle(txnId, result);
  }
}
