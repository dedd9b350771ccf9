// Per-thread turns: one agent run in flight per thread; messages arriving meanwhile go together as the next
// run; a bounded queue whose overflow is told to the user. Runs at the agent are bounded (run-limiter.ts): a run
// beyond AGENT_MAX_CONCURRENT_RUNS or AGENT_MAX_RUNS_PER_USER waits its turn, and a user who starts waiting is
// told once. Never throws: every failure becomes a reply.
import type { Logger } from "pino";
import type { RunFailure, RunResult } from "../agent/link";
import type { RoomMessageSender } from "../matrix/sender";
import type { LiveRendering } from "../render/answer";
import { FAILURE_TEXTS } from "./failure-text";
import { RunLimiter, type RunLimits } from "./run-limiter";
import { TurnRun, type AgentRunner, type TurnMessage, type TurnOptions } from "./turn-run";
import { RoomTyping } from "./typing";

export type { AgentRunner, TurnMessage } from "./turn-run";

export interface PipelineDeps {
  agent: AgentRunner;
  sender: RoomMessageSender;
  log: Logger;
  options: TurnOptions & { turnQueueLimit: number } & Partial<RunLimits>;
  /** Live answers (src/render/); absent: answers are posted when complete. */
  live?: LiveRendering;
  /** Called once every message of a finished run (answered or told of the failure) is settled. */
  onSettled: (messages: TurnMessage[]) => Promise<void>;
  onRunFinished?: (result: RunResult, messages: TurnMessage[], seconds: number) => void;
}

interface ThreadState {
  running: TurnRun | undefined;
  queue: TurnMessage[];
}

export class TurnPipeline {
  private readonly threads = new Map<string, ThreadState>();
  private readonly inFlight = new Set<Promise<void>>();
  private accepting = true;
  private readonly typing: RoomTyping;
  private readonly limiter: RunLimiter;
  /** When each message was submitted: the `ms` of its `message handled` line. */
  private readonly submittedAt = new WeakMap<TurnMessage, number>();

  constructor(private readonly deps: PipelineDeps) {
    this.typing = new RoomTyping(deps.sender, deps.options.typingTimeoutMs, deps.log, deps.options.typingDelayMs);
    this.limiter = new RunLimiter({
      maxConcurrent: deps.options.maxConcurrent ?? Number.POSITIVE_INFINITY, maxPerUser: deps.options.maxPerUser ?? Number.POSITIVE_INFINITY,
    });
  }

  /** Queues a message for its thread. Resolves once it is queued or running, not when it is answered. */
  submit(message: TurnMessage): void {
    if (!this.accepting) return;
    this.submittedAt.set(message, Date.now());
    const thread = this.threads.get(message.threadKey) ?? { running: undefined, queue: [] };
    this.threads.set(message.threadKey, thread);
    if (thread.running === undefined) {
      this.launch(thread, [message]);
      return;
    }
    if (thread.queue.length >= this.deps.options.turnQueueLimit) {
      this.track(this.rejectOverflow(message));
      return;
    }
    thread.queue.push(message);
  }

  /** Cancels the run in flight for a thread (the /stop command). Returns whether one was running. */
  cancel(threadKey: string): boolean {
    const run = this.threads.get(threadKey)?.running;
    if (!run) return false;
    run.abort();
    return true;
  }

  /** Removes a still-queued message (it was redacted). Returns whether it was queued. */
  withdraw(roomId: string, eventId: string): boolean {
    for (const thread of this.threads.values()) {
      const index = thread.queue.findIndex((m) => m.roomId === roomId && m.eventId === eventId);
      if (index >= 0) {
        thread.queue.splice(index, 1)[0]?.media?.release();
        return true;
      }
    }
    return false;
  }

  /** Runs in flight (with the notices of refused messages) plus messages queued for a thread's next run. */
  pendingCount(): number {
    let queued = 0;
    for (const thread of this.threads.values()) queued += thread.queue.length;
    return this.inFlight.size + queued;
  }

  isBusy(threadKey: string): boolean {
    return this.threads.get(threadKey)?.running !== undefined;
  }

  /**
   * Stops taking new messages and lets the runs in flight finish for up to `graceMs`; past that they are
   * aborted, their rooms told, and their messages left pending in the journal for the next start.
   */
  async drain(graceMs = Number.POSITIVE_INFINITY): Promise<void> {
    this.accepting = false;
    const settled = (async () => {
      while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    })();
    let timer: NodeJS.Timeout | undefined;
    const deadline = Number.isFinite(graceMs) ? new Promise<"late">((r) => (timer = setTimeout(() => r("late"), graceMs))) : undefined;
    const outcome = await Promise.race([settled.then(() => "done" as const), ...(deadline ? [deadline] : [])]);
    clearTimeout(timer);
    if (outcome === "late") {
      this.deps.log.warn({ running: [...this.threads.values()].filter((t) => t.running).length }, "shutdown grace period over: stopping the turns still running");
      for (const thread of this.threads.values()) thread.running?.abort("shutdown");
      await settled;
    }
  }

  private launch(thread: ThreadState, batch: TurnMessage[]): void {
    const run = new TurnRun(batch, { ...this.deps, typing: this.typing });
    const startedAt = Date.now();
    thread.running = run;
    this.track(
      this.whenFree(run, batch).then(async (release) => {
        const result = await run.execute().finally(release);
        this.deps.onRunFinished?.(result, batch, (Date.now() - startedAt) / 1000);
        if (run.abortedFor !== "shutdown") await this.settle(batch);
        this.logHandled(batch, run.abortedFor ?? (result.ok ? "ok" : result.failure.kind));
        thread.running = undefined;
        const next = thread.queue.splice(0);
        // At shutdown, queued messages stay pending in the journal and are answered after the restart.
        if (next.length > 0 && this.accepting) this.launch(thread, next);
        if (thread.running === undefined && thread.queue.length === 0) this.threads.delete(batch[0]?.threadKey ?? "");
      }),
    );
  }

  /**
   * Waits for a run slot (run-limiter.ts), telling the user once when they start waiting. Resolves to the slot's
   * release; a run stopped while it waited goes on without one (the agent is not asked; the user is told "Stopped").
   */
  private async whenFree(run: TurnRun, batch: TurnMessage[]): Promise<() => void> {
    const last = batch[batch.length - 1];
    if (!last) return () => undefined;
    const mustWait = this.limiter.mustWait(last.sender);
    const firstWait = mustWait && this.limiter.waitingFor(last.sender) === 0;
    if (mustWait) {
      this.deps.log.info({ roomId: last.roomId, threadKey: last.threadKey, inFlight: this.limiter.inFlight },
        "agent run waits for a free slot (AGENT_MAX_CONCURRENT_RUNS / AGENT_MAX_RUNS_PER_USER)");
    }
    const slot = this.limiter.acquire(last.sender, run.signal);
    if (firstWait) {
      await TurnRun.notify(this.deps, last, FAILURE_TEXTS.waiting, "waiting")
        .catch((e: unknown) => this.deps.log.warn({ roomId: last.roomId, err: String(e) }, "could not say that a run waits for a free slot"));
    }
    return (await slot) ?? ((): void => undefined);
  }

  private async rejectOverflow(message: TurnMessage): Promise<void> {
    this.deps.log.warn({ roomId: message.roomId, threadKey: message.threadKey }, "turn queue full; message refused");
    await TurnRun.notify(this.deps, message, FAILURE_TEXTS.queue_full, "queue-full");
    await this.settle([message]);
    this.logHandled([message], "queue_full");
  }

  /**
   * One info line per message: where (room, thread key, event), how it ended (`ok`, a failure kind, `stop`, or
   * `shutdown`: left for the next start) and how long it took from its arrival. Never its text or a display name.
   */
  private logHandled(messages: TurnMessage[], outcome: string): void {
    const now = Date.now();
    for (const m of messages) {
      this.deps.log.info({ roomId: m.roomId, threadKey: m.threadKey, eventId: m.eventId, outcome,
        ms: now - (this.submittedAt.get(m) ?? now) }, "message handled");
    }
  }

  private async settle(messages: TurnMessage[]): Promise<void> {
    try {
      await this.deps.onSettled(messages);
    } catch (e) {
      this.deps.log.error({ err: String(e), count: messages.length }, "could not mark messages handled; they may be answered again after a restart");
    }
  }

  /** Fire-and-forget work goes through here: tracked for drain(), and its errors logged, never thrown. */
  private track(work: Promise<void>): void {
    const tracked = work.catch((e: unknown) => this.deps.log.error({ err: String(e) }, "turn work failed"));
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
  }
}

export function isFailure(result: RunResult): result is { ok: false; failure: RunFailure } {
  return !result.ok;
}
