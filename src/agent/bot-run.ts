// One bot-started run in flight: its timers, text assembly and serialized observer calls.
import type { Logger } from "pino";
import type { RunFailure, RunObserver, RunResult } from "./link-types";
import { awaitSafely, callSafely, unrefTimer } from "./link-util";
import type { RunEvent } from "./run-events";
import { usageField } from "../usage/token-usage";

export interface BotRunDeps {
  /** The link's logger (not a child per run: creating one costs more than a whole turn's other logging); the run's
   *  own lines carry runId and threadId. */
  logger: Logger;
  threadId: string;
  runStartTimeoutMs: number;
  runIdleTimeoutMs: number;
  /** Time left until the run's deadline (counted from the run() call). */
  deadlineInMs: number;
  /** Ask the agent to stop working on this run (best effort). */
  sendCancel(runId: string): void;
  /** The run settled: stop routing frames to it. Called once, synchronously at settlement. */
  onSettled(runId: string): void;
}

export class BotRun {
  readonly done: Promise<RunResult>;
  private resolveDone!: (result: RunResult) => void;
  private settled = false;
  private started = false;
  /** Open TEXT_MESSAGEs (and snapshot messages) in the order they started. */
  private readonly open = new Map<string, string>();
  /** Messages streamed by TEXT_MESSAGE_* events: a MESSAGES_SNAPSHOT does not show them again. */
  private readonly streamed = new Set<string>();
  /** Observer calls run one after another; run() resolves after the last. */
  private chain: Promise<void> = Promise.resolve();
  private startTimer?: NodeJS.Timeout;
  private idleTimer?: NodeJS.Timeout;
  private readonly deadlineTimer: NodeJS.Timeout;

  constructor(
    readonly runId: string,
    private readonly observer: RunObserver,
    private readonly deps: BotRunDeps,
  ) {
    this.done = new Promise<RunResult>((resolve) => {
      this.resolveDone = resolve;
    });
    this.deadlineTimer = unrefTimer(
      () => this.fail({ kind: "deadline", detail: "the run took longer than its deadline" }, true),
      deps.deadlineInMs,
    );
  }

  /** The run frame went out: start waiting for RUN_STARTED. */
  sent(): void {
    if (this.settled) return;
    this.startTimer = unrefTimer(
      () => this.fail({ kind: "no_start", detail: "the agent did not start the run in time" }, true),
      this.deps.runStartTimeoutMs,
    );
  }

  onEvent(event: RunEvent): void {
    if (this.settled) return;
    this.markActive();
    switch (event.type) {
      case "RUN_STARTED":
      case "UNKNOWN":
        return;
      case "WORK": {
        const obs = this.observer;
        if (obs.onWork) this.enqueue(() => callSafely(this.deps.logger, "onWork", () => obs.onWork?.(event.work)));
        return;
      }
      case "ATTACHMENT": {
        const obs = this.observer;
        if (obs.onAttachment) this.enqueue(() => awaitSafely(this.deps.logger, "onAttachment", () => obs.onAttachment?.(event.attachment)));
        return;
      }
      case "TEXT_MESSAGE_START":
        this.streamed.add(event.messageId);
        this.openText(event.messageId);
        return;
      case "TEXT_MESSAGE_CONTENT": {
        this.streamed.add(event.messageId);
        this.openText(event.messageId);
        const text = (this.open.get(event.messageId) ?? "") + event.delta;
        this.open.set(event.messageId, text);
        this.progress(event.messageId, event.delta, text);
        return;
      }
      case "TEXT_MESSAGE_END": {
        const text = this.open.get(event.messageId);
        if (text === undefined) {
          this.deps.logger.warn({ runId: this.runId, messageId: event.messageId }, "TEXT_MESSAGE_END for a message never started; ignored");
          return;
        }
        this.open.delete(event.messageId);
        this.deliverText(event.messageId, text);
        return;
      }
      case "MESSAGES_SNAPSHOT":
        // Assistant text that arrives only in snapshots: each snapshot holds the message's whole text so far.
        for (const { messageId, text } of event.texts) {
          if (this.streamed.has(messageId)) continue;
          this.openText(messageId);
          if (this.open.get(messageId) === text) continue;
          this.open.set(messageId, text);
          this.progress(messageId, undefined, text);
        }
        return;
      case "RUN_FINISHED": {
        // Messages the agent left open are still complete text for the user.
        for (const [id, text] of this.open) this.deliverText(id, text);
        this.open.clear();
        const stopped = event.outcome === "cancelled";
        const interrupts = event.outcome === "interrupt" ? event.interrupts ?? [] : [];
        this.settle({ ...(stopped ? { ok: false, failure: { kind: "agent_error", code: "cancelled", message: "the agent stopped the run", retryable: false } }
          : interrupts.length > 0 ? { ok: true, interrupts } : { ok: true }), ...usageField(event.usage) }, false);
        return;
      }
      case "RUN_ERROR":
        this.settle(
          { ok: false, failure: { kind: "agent_error", code: event.code, message: event.message, retryable: event.retryable }, ...usageField(event.usage) },
          false,
        );
        return;
    }
  }

  private openText(messageId: string): void {
    if (this.open.has(messageId)) return;
    this.open.set(messageId, "");
    const obs = this.observer;
    if (obs.onTextStart) this.enqueue(() => callSafely(this.deps.logger, "onTextStart", () => obs.onTextStart?.(messageId)));
  }

  /** The text so far (and the delta, when it grew by one) of a message still open. */
  private progress(messageId: string, delta: string | undefined, text: string): void {
    const obs = this.observer;
    const log = this.deps.logger;
    if (delta !== undefined && obs.onTextDelta) this.enqueue(() => callSafely(log, "onTextDelta", () => obs.onTextDelta?.(messageId, delta)));
    if (obs.onTextProgress) this.enqueue(() => callSafely(log, "onTextProgress", () => obs.onTextProgress?.(messageId, text)));
  }

  /** A malformed frame named this run, or the agent answered our frame with an `error`. */
  failBadFrame(detail: string): void {
    this.fail({ kind: "bad_frame", detail }, true);
  }

  /** The connection carrying this run dropped; the run is not resent. */
  linkLost(detail: string): void {
    this.fail({ kind: "link_lost", detail }, false);
  }

  /** The caller gave up (AbortSignal). */
  cancel(detail: string): void {
    this.fail({ kind: "cancelled", detail }, true);
  }

  /** Fail before the run frame was ever sent (nothing to cancel at the agent). */
  failUnsent(failure: RunFailure): void {
    this.fail(failure, false);
  }

  private fail(failure: RunFailure, cancelAtAgent: boolean): void {
    this.settle({ ok: false, failure }, cancelAtAgent);
  }

  private markActive(): void {
    if (!this.started) {
      this.started = true;
      if (this.startTimer) clearTimeout(this.startTimer);
      this.startTimer = undefined;
      const obs = this.observer;
      if (obs.onStarted) this.enqueue(() => callSafely(this.deps.logger, "onStarted", () => obs.onStarted?.()));
    }
    // The same timer, started again: not a new one per frame.
    if (this.idleTimer) this.idleTimer.refresh();
    else this.idleTimer = unrefTimer(() => this.fail({ kind: "idle", detail: "the agent went silent during the run" }, true),
      this.deps.runIdleTimeoutMs);
  }

  private deliverText(messageId: string, text: string): void {
    const obs = this.observer;
    this.enqueue(() => awaitSafely(this.deps.logger, "onTextMessage", () => obs.onTextMessage(messageId, text)));
  }

  private enqueue(step: () => void | Promise<void>): void {
    this.chain = this.chain.then(step).catch((err: unknown) => {
      this.deps.logger.error({ err, runId: this.runId, threadId: this.deps.threadId }, "run observer step failed");
    });
  }

  private settle(result: RunResult, cancelAtAgent: boolean): void {
    if (this.settled) return;
    this.settled = true;
    if (this.startTimer) clearTimeout(this.startTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    clearTimeout(this.deadlineTimer);
    this.deps.onSettled(this.runId);
    if (cancelAtAgent) {
      try {
        this.deps.sendCancel(this.runId);
      } catch (err) {
        this.deps.logger.warn({ err, runId: this.runId, threadId: this.deps.threadId }, "could not send cancel");
      }
    }
    if (!result.ok) this.deps.logger.info({ runId: this.runId, threadId: this.deps.threadId, failure: result.failure }, "run failed");
    // Text already received is handed over first; then the result.
    void this.chain.then(() => this.resolveDone(result));
  }
}
