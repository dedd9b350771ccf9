// Per-thread turns: one agent run in flight per thread; messages arriving meanwhile go together as the next
// run (an answer given again, for an edited question, runs alone); a bounded queue whose overflow is told to the
// user. Runs at the agent are bounded (run-limiter.ts): a run beyond AGENT_MAX_CONCURRENT_RUNS or
// AGENT_MAX_RUNS_PER_USER waits its turn, and a user who starts waiting is told once. A waiting message that is
// edited waits in its new version; one redacted is dropped. A running batch that is edited or redacted while the
// agent is at it is cancelled and run again as it now is: after an edit the new run takes over what the cancelled
// one posted, after a redaction those messages are redacted. Never throws: every failure becomes a reply.
import { afterChange, type NextBatch } from "./change-rerun";
import { FAILURE_TEXTS } from "./failure-text";
import type { PipelineDeps } from "./pipeline-deps";
import { RunLimiter } from "./run-limiter";
import { usualBatch } from "./run-batches";
import { finished, settle } from "./run-end";
import { waitForSlot } from "./run-slot";
import { journalIdsOf, TurnRun, type TurnMessage, type TurnRunOptions } from "./turn-run";
import { findMessage, type BatchChange, type ChangeOutcome, type Found, type ThreadState } from "./batch-changes";
import { mayDeferRecord, sendsAfter } from "./record-gate";
import type { RecordWrite } from "./run-batches";
import { RoomTyping } from "./typing";

export type { AgentRunner, TurnMessage } from "./turn-run";
export type { ChangeOutcome } from "./batch-changes";
export type { PipelineDeps, PipelineInterrupts } from "./pipeline-deps";

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
    const thread = this.threadOf(message.threadKey);
    const recorded = this.deps.batches?.isRecorded(message) === true; // it waits for the rest of its run's batch
    if (thread.running === undefined && !thread.paused && thread.queue.length === 0 && !recorded) {
      this.launch(thread, [message]);
      return;
    }
    if (thread.queue.length >= this.deps.options.turnQueueLimit && !recorded) {
      this.track(this.rejectOverflow(message));
      return;
    }
    thread.queue.push(message);
    this.launchNext(thread);
  }

  /** Before the journal's unfinished events are routed again: the batches of the runs a crash cut short (run-batches.ts). */
  async loadRecordedBatches(): Promise<number> {
    return (await this.deps.batches?.load()) ?? 0;
  }

  /** The room's recovered events are all routed: its recovered batches run with the turns that came. */
  recoveryRouted(roomId: string): void {
    this.deps.batches?.release(roomId, (eventId) => findMessage(this.threads, roomId, eventId) !== undefined);
    for (const thread of this.threads.values()) if (thread.queue[0]?.roomId === roomId) this.launchNext(thread);
  }

  /** The thread's state, made (idle) if it has none. */
  private threadOf(threadKey: string): ThreadState {
    const thread = this.threads.get(threadKey) ?? { running: undefined, batch: [], queue: [], done: Promise.resolve() };
    this.threads.set(threadKey, thread);
    return thread;
  }

  /** Cancels the run in flight for a thread (the /stop command). Returns whether one was running. */
  cancel(threadKey: string): boolean {
    const thread = this.threads.get(threadKey);
    const run = thread?.running;
    if (thread?.paused && !run && this.deps.interrupts) {
      const interrupts = this.deps.interrupts;
      this.track(interrupts.stopped(threadKey).then(() => this.release(threadKey)));
      return true;
    }
    if (!run) return false;
    run.abort();
    return true;
  }

  /** A thread whose run is paused for answers (src/interrupts/, at start): its messages wait. */
  pause(threadKey: string): void {
    this.threadOf(threadKey).paused = true;
  }

  /** The paused thread goes on with `message` (a resume run): it runs before the messages that waited. */
  resume(message: TurnMessage): void {
    if (!this.accepting) return;
    const thread = this.threadOf(message.threadKey);
    thread.paused = false;
    if (thread.running === undefined) this.launch(thread, [message]);
    else thread.queue.unshift(message);
  }

  /**
   * The paused thread goes on without a resume (its prompts were cancelled): what waited runs; or, `drop` given (the
   * bot is no longer in the room, where no answer can go), what waited is dropped: settled, logged and counted.
   */
  release(threadKey: string, drop?: "room_left"): void {
    const thread = this.threads.get(threadKey);
    if (!thread?.paused) return;
    thread.paused = false;
    if (drop !== undefined && thread.queue.length > 0) this.track(this.dropWaiting(thread.queue.splice(0), drop));
    const next = this.nextBatch(thread);
    if (next && this.accepting && thread.running === undefined) this.launch(thread, next.batch, next.opts);
    else if (thread.running === undefined && thread.queue.length === 0) this.threads.delete(threadKey);
  }

  /**
   * Question `eventId` was redacted (by `cause`): dropped while it waits; while it is being answered the run is
   * cancelled, its messages redacted, and the rest of its batch runs again. Once the answer is out: "unknown" (after
   * the answer was recorded, so that the caller finds it).
   */
  async redacted(roomId: string, eventId: string, cause: string): Promise<ChangeOutcome> {
    const found = findMessage(this.threads, roomId, eventId);
    if (!found) return { kind: "unknown" };
    const [message] = found.list.slice(found.index, found.index + 1);
    if (!message) return { kind: "unknown" };
    if (found.where === "queue") {
      found.list.splice(found.index, 1);
      message.media?.release();
      this.logHandled([message], "redacted");
      this.deps.batches?.dropped(message);
      this.launchNext(found.thread);
      return { kind: "waiting", dropped: [message] };
    }
    const change = await this.changeRunning(found, cause, "redacted");
    if (!change) return { kind: "unknown" };
    change.batch.splice(change.batch.findIndex((m) => m.eventId === eventId), 1);
    change.redacted.push(message);
    return { kind: "running" };
  }

  /**
   * Runs in flight (with the notices of refused messages) plus messages queued for a thread's next run; not those
   * waiting behind a paused run (they wait for people, not for the bot).
   */
  pendingCount(): number {
    let queued = 0;
    for (const thread of this.threads.values()) if (!thread.paused) queued += thread.queue.length;
    return this.inFlight.size + queued;
  }

  /**
   * Question `eventId` was edited by `edit.sender` into `edit.text` (the edit event `edit.editId`): a waiting message
   * waits in its new version; while it is being answered the run is cancelled and runs again with it. Once the answer
   * is out: "unknown" (after the answer was recorded).
   */
  async revised(roomId: string, eventId: string, edit: { editId: string; sender: string; text: string }): Promise<ChangeOutcome> {
    const found = findMessage(this.threads, roomId, eventId);
    const message = found?.list[found.index];
    if (!found || !message) return { kind: "unknown" };
    if (message.sender !== edit.sender) return { kind: "not_sender" };
    // Once the agent was given it (the run may even have finished at the agent), the new text replaces the old one.
    const next: TurnMessage = { ...message, text: edit.text, editId: edit.editId, supersedes: journalIdsOf(message),
      ...(found.where === "queue" ? {} : { replaces: true }) };
    this.submittedAt.set(next, this.submittedAt.get(message) ?? Date.now());
    if (found.where === "queue") {
      found.list[found.index] = next;
      this.launchNext(found.thread);
      return { kind: "waiting", dropped: [] };
    }
    const change = await this.changeRunning(found, edit.editId, "edited");
    if (!change) return { kind: "unknown" };
    change.batch[change.batch.findIndex((m) => m.eventId === eventId)] = next;
    return { kind: "running" };
  }

  /** Whether nothing runs or waits in the thread. */
  isIdle(threadKey: string): boolean {
    const thread = this.threads.get(threadKey);
    return thread === undefined || (thread.running === undefined && thread.queue.length === 0);
  }

  /** The change of the running batch, made now (the run cancelled) if need be; undefined when the answer is out already. */
  private async changeRunning(found: Found, cause: string, reason: "edited" | "redacted"): Promise<BatchChange | undefined> {
    const { thread } = found;
    if (found.where === "change" && thread.change) return thread.change;
    if (!thread.running?.abort(reason)) {
      await thread.done; // the answer is being recorded: the caller deals with it as an answer
      return undefined;
    }
    thread.change = { batch: [...thread.batch], cause, redacted: [] };
    return thread.change;
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

  private launch(thread: ThreadState, batch: TurnMessage[], opts: TurnRunOptions = {}): void {
    let recording: RecordWrite | undefined;
    // The run's sends wait for its record (record-gate.ts), which a plain first run of a fresh message writes with its first.
    const sendsRecorded = this.deps.sendsRecorded === true && this.deps.writesInIssueOrder === true;
    const sender = sendsAfter(this.deps.sender, () => recording, sendsRecorded);
    const run = new TurnRun(batch, { ...this.deps, sender, typing: this.typing, beforeLiveRecord: async () => recording?.issue() }, opts);
    const startedAt = Date.now();
    let settled!: () => void;
    thread.running = run;
    thread.batch = batch;
    thread.done = new Promise<void>((resolve) => (settled = resolve));
    const threadKey = batch[0]?.threadKey ?? "";
    // Which turns it answers is recorded before the run sends anything: after a crash it runs again as it was.
    recording = this.deps.batches?.record(threadKey, batch, run.runId, opts.takeOver, mayDeferRecord(sendsRecorded, batch, opts));
    this.track(
      (recording?.begin ?? Promise.resolve()).then(() => waitForSlot(this.limiter, this.deps, run, batch)).then(async (release) => {
        let again: NextBatch | undefined;
        let recordGone = false; // the thread's record went with the run's end
        try {
          const result = await run.execute().finally(release);
          await recording?.issue(); // a deferred record not written yet (the run sent nothing): before what follows
          this.deps.onRunFinished?.(result, batch, (Date.now() - startedAt) / 1000);
          const change = thread.change;
          thread.change = undefined;
          if (change) again = await afterChange(this.deps, run, batch, change,
            { settle: (m) => this.settle(m), logHandled: (m, outcome) => this.logHandled(m, outcome) });
          else {
            if (result.ok && result.interrupts && this.deps.interrupts && run.abortedFor === undefined) {
              await this.deps.interrupts.paused(batch, run.runId, result.interrupts);
              thread.paused = true;
            }
            if (run.abortedFor !== "shutdown") {
              // Nothing more to run in its thread: its record goes with the run's end (one commit where the store allows).
              const batches = (thread.paused === true || thread.queue.length === 0) ? this.deps.batches : undefined;
              recordGone = batches !== undefined;
              await finished(this.deps, run, batch, batches && (() => batches.finished(batch[0]?.roomId ?? "", threadKey)));
            }
            this.logHandled(batch, run.abortedFor ?? (result.ok ? "ok" : result.failure.kind));
          }
        } finally {
          thread.running = undefined;
          // At shutdown, queued messages stay pending in the journal and are answered after the restart.
          const next = again ?? (thread.paused ? undefined : this.nextBatch(thread));
          if (next && this.accepting) this.launch(thread, next.batch, next.opts);
          else if (run.abortedFor !== "shutdown" && !recordGone) void this.deps.batches?.finished(batch[0]?.roomId ?? "", threadKey); // its turns are settled
          if (thread.running === undefined && thread.queue.length === 0 && !thread.paused) this.threads.delete(threadKey);
          settled();
        }
      }),
    );
  }

  /** The next batch of a thread's queue (run-batches.ts): a recovered batch as it was, or the usual batch. */
  private nextBatch(thread: ThreadState): NextBatch | undefined {
    return this.deps.batches ? this.deps.batches.next(thread.queue) : usualBatch(thread.queue);
  }

  /** An idle thread runs its next batch, if one is ready. */
  private launchNext(thread: ThreadState): void {
    if (thread.running !== undefined || thread.paused || !this.accepting) return;
    const next = this.nextBatch(thread);
    if (next) this.launch(thread, next.batch, next.opts);
  }

  private async dropWaiting(messages: TurnMessage[], reason: "room_left"): Promise<void> {
    this.deps.log.info({ roomId: messages[0]?.roomId, count: messages.length, reason }, "messages waiting behind a cancelled prompt dropped");
    await this.settle(messages);
    this.logHandled(messages, reason);
    this.deps.onDropped?.(messages, reason);
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
    await settle(this.deps, messages);
  }

  /** Fire-and-forget work goes through here: tracked for drain(), and its errors logged, never thrown. */
  private track(work: Promise<void>): void {
    const tracked = work.catch((e: unknown) => this.deps.log.error({ err: String(e) }, "turn work failed"));
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
  }
}
