// Pending prompts (AG-UI interrupts) in the room, durable. A run that paused is recorded before its prompts are
// posted (txnIds from the run, so a repost after a crash is deduplicated); each answer is recorded before the prompt
// is edited to show it; once every prompt of the run is answered or expired, the record turns "resuming" and the
// thread's resume run starts, once. On start every record goes on where it stopped. All work runs one step at a time.
import type { Logger } from "pino";
import type Keyv from "keyv";
import type { AgentInterrupt } from "../agent/protocol-v2";
import type { RoomEvent } from "../matrix/events";
import type { RoomMessageSender } from "../matrix/sender";
import { txnIdFor, type TurnMessage } from "../turns/turn-run";
import { decide, readEvent } from "./answers";
import { kindOf, promptText } from "./kinds";
import { targetOf, type Known } from "./matching";
import { outcomeOf, resumeMessage, type PromptOutcome } from "./outcomes";
import { postPrompt, showOutcome } from "./prompt-posting";
import { PausedRuns, type PausedRun, type Prompt, type PromptAnswer } from "./records";

export type { PromptOutcome } from "./outcomes";

export interface InterruptDeps {
  kv: Keyv<unknown>;
  sender: RoomMessageSender;
  log: Logger;
  /** APPROVAL_TIMEOUT_MS: a prompt expires after this, or at its interrupt's expiresAt if that is earlier. */
  timeoutMs: number;
  pipeline: { pause(threadKey: string): void; resume(message: TurnMessage): void; release(threadKey: string, drop?: "room_left"): void };
  threadKeyFor(roomId: string, threadRootId: string | undefined): Promise<string>;
  /** Whether someone other than the asker may answer: the settings permission (DESIGN.md). */
  hasSettingsPermission(roomId: string, userId: string): Promise<boolean>;
  displayName(roomId: string, userId: string): Promise<string | undefined>;
  onOutcome?(outcome: PromptOutcome): void;
  now?(): number;
}

/** A prompt waiting for its answer (/status). */
export interface PendingPrompt { roomId: string; kind: Prompt["kind"]; text: string; asker: string; expiresAt: number }

const MAX_TIMER_MS = 2 ** 31 - 1;

export class InterruptManager {
  private readonly runs: PausedRuns;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Records in memory (the store is the truth at start; this is what /status and matching read). */
  private readonly known = new Map<string, PausedRun>();

  /** What matching.ts reads to find the prompt an event answers. */
  private readonly matching: Known;

  constructor(private readonly deps: InterruptDeps) {
    this.runs = new PausedRuns(deps.kv);
    this.matching = { runs: this.runs, records: this.known, threadKeyFor: (roomId, root) => deps.threadKeyFor(roomId, root) };
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  /** One step at a time: answers, expiries, posting and resuming never interleave. */
  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.chain.then(work);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** At start, before inbound events are routed: every recorded run goes on where it stopped. */
  async start(): Promise<number> {
    const runs = await this.runs.all();
    for (const run of runs) {
      const key = keyOf(run.roomId, run.runId);
      this.known.set(key, run);
      this.deps.pipeline.pause(run.threadKey);
    }
    for (const run of runs) void this.serial(() => this.advance(keyOf(run.roomId, run.runId))).catch((e: unknown) => this.failed(e, run));
    if (runs.length > 0) this.deps.log.info({ count: runs.length }, "paused runs waiting for answers recovered");
    return runs.length;
  }

  stop(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  /** A run paused with these interrupts: recorded, then its prompts posted. */
  paused(batch: TurnMessage[], runId: string, interrupts: AgentInterrupt[]): Promise<void> {
    const last = batch[batch.length - 1];
    if (!last) return Promise.resolve();
    return this.serial(async () => {
      const now = this.now();
      const prompts: Prompt[] = interrupts.map((i) => {
        const kind = kindOf(i);
        const until = i.expiresAt !== undefined ? Date.parse(i.expiresAt) : Number.NaN;
        return { interruptId: i.id, kind: kind.kind, ...(kind.kind === "choice" ? { options: kind.options } : {}),
          text: promptText(i, kind), expiresAt: Math.min(now + this.deps.timeoutMs, Number.isNaN(until) ? Number.POSITIVE_INFINITY : until) };
      });
      const run: PausedRun = { runId, roomId: last.roomId, threadKey: last.threadKey, isDirect: last.isDirect, asker: last.sender,
        askerEventId: last.eventId, state: "posting", prompts, createdAt: now,
        ...(last.threadRootId ? { threadRootId: last.threadRootId } : {}), ...(last.senderName ? { askerName: last.senderName } : {}) };
      const key = keyOf(run.roomId, runId);
      await this.save(key, run);
      this.deps.log.info({ roomId: run.roomId, threadKey: run.threadKey, prompts: prompts.length }, "run paused for answers");
      await this.advance(key);
    });
  }

  /** Whether the event answered a pending prompt, or tried to (a reaction or vote on a prompt): the router stops there. */
  onEvent(event: RoomEvent): Promise<boolean> {
    const said = readEvent(event);
    if (said.on === "nothing") return Promise.resolve(false);
    return this.serial(async () => {
      const target = await targetOf(this.matching, event, said);
      if (!target) return said.on === "prompt" && (await this.runs.byPrompt(said.promptEventId)) !== undefined;
      const { key, run, index } = target;
      const prompt = run.prompts[index];
      if (!prompt || prompt.answer) return true; // a second reaction, a duplicate: nothing
      if (event.sender !== run.asker && !(await this.deps.hasSettingsPermission(run.roomId, event.sender))) {
        this.deps.log.info({ roomId: run.roomId, eventId: event.event_id }, "a prompt's answer by someone who may not answer it: ignored");
        return said.on === "prompt";
      }
      const name = (await this.deps.displayName(run.roomId, event.sender)) ?? event.sender;
      const decided = decide(prompt, said, name);
      if (!decided) return said.on === "prompt";
      await this.settle(key, run, index, { ...decided, by: event.sender });
      return true;
    });
  }

  /** /stop in a paused thread: its prompts cancelled, the run not resumed. */
  stopped(threadKey: string): Promise<void> {
    return this.serial(async () => {
      for (const [key, run] of [...this.known]) {
        if (run.threadKey !== threadKey || run.state === "resuming") continue;
        for (const [i, p] of run.prompts.entries()) {
          if (p.answer) continue;
          p.answer = { status: "cancelled", shown: "⏹ cancelled (/stop)" };
          this.deps.onOutcome?.("cancelled");
          await this.show(run, i);
        }
        this.clearTimer(key);
        this.known.delete(key);
        await this.runs.remove(key);
        this.deps.log.info({ roomId: run.roomId, threadKey }, "paused run stopped: its prompts are cancelled");
      }
    });
  }

  /**
   * The bot left (or was removed from) a room: its prompts are cancelled where they stand (nothing can be shown there),
   * and the messages that waited behind them are dropped.
   */
  roomLeft(roomId: string): Promise<number> {
    return this.serial(async () => {
      let cancelled = 0;
      for (const [key, run] of [...this.known]) {
        if (run.roomId !== roomId || run.state === "resuming") continue;
        for (const p of run.prompts) {
          if (p.answer) continue;
          p.answer = { status: "cancelled", shown: "⏹ cancelled (the bot left the room)" };
          this.deps.onOutcome?.("cancelled");
          cancelled += 1;
        }
        this.clearTimer(key);
        this.known.delete(key);
        await this.runs.remove(key);
        this.deps.pipeline.release(run.threadKey, "room_left"); // what waited behind it cannot be answered there
      }
      if (cancelled > 0) this.deps.log.info({ roomId, cancelled }, "the bot left the room: its pending prompts are cancelled");
      return cancelled;
    });
  }

  /** A resume run went its course: the record goes. */
  resumed(message: TurnMessage): Promise<void> {
    const key = message.resume?.key;
    if (key === undefined) return Promise.resolve();
    return this.serial(async () => {
      this.known.delete(key);
      await this.runs.remove(key);
    });
  }

  /** Prompts still waiting for an answer, in a room or everywhere. */
  pending(roomId?: string): PendingPrompt[] {
    return [...this.known.values()].filter((r) => roomId === undefined || r.roomId === roomId).flatMap((r) =>
      r.prompts.filter((p) => !p.answer).map((p) => ({ roomId: r.roomId, kind: p.kind, text: p.text, asker: r.asker, expiresAt: p.expiresAt })));
  }

  /** Moves a record on: posts what is unposted, shows answers not yet shown, expires, resumes. */
  private async advance(key: string): Promise<void> {
    const run = this.known.get(key);
    if (!run) return;
    if (run.state === "resuming") {
      this.deps.pipeline.resume(resumeMessage(key, run));
      return;
    }
    for (const i of run.prompts.keys()) if (run.prompts[i]?.eventId === undefined) await postPrompt(this.deps, run, i);
    if (run.state === "posting") run.state = "waiting";
    await this.save(key, run);
    for (const i of run.prompts.keys()) await this.show(run, i);
    await this.expire(key, run);
  }

  /** A prompt answered (or expired, cancelled): recorded first, then shown; the run resumes when none is left. */
  private async settle(key: string, run: PausedRun, index: number, answer: PromptAnswer): Promise<void> {
    const prompt = run.prompts[index];
    if (!prompt || prompt.answer) return;
    prompt.answer = answer;
    await this.save(key, run);
    this.deps.onOutcome?.(outcomeOf(prompt, answer));
    this.deps.log.info({ roomId: run.roomId, threadKey: run.threadKey, kind: prompt.kind, status: answer.status }, "prompt answered");
    await this.show(run, index);
    if (run.prompts.every((p) => p.answer)) {
      this.clearTimer(key);
      run.state = "resuming";
      await this.save(key, run);
      this.deps.pipeline.resume(resumeMessage(key, run));
    }
  }

  /** Edits an answered prompt to show its outcome (a poll is ended too), once. */
  private async show(run: PausedRun, index: number): Promise<void> {
    if (await showOutcome(this.deps, run, index)) await this.save(keyOf(run.roomId, run.runId), run);
  }

  /** Prompts past their time are cancelled ("expired"); the next expiry is scheduled. */
  private async expire(key: string, run: PausedRun): Promise<void> {
    const now = this.now();
    for (const [i, p] of run.prompts.entries()) {
      if (!p.answer && p.expiresAt <= now) await this.settle(key, run, i, { status: "cancelled", shown: "⌛ expired" });
    }
    if (!this.known.has(key) || run.state !== "waiting") return;
    const next = Math.min(...run.prompts.filter((p) => !p.answer).map((p) => p.expiresAt));
    if (!Number.isFinite(next)) return;
    this.clearTimer(key);
    const timer = setTimeout(() => void this.serial(() => this.expire(key, run)).catch((e: unknown) => this.failed(e, run)),
      Math.min(MAX_TIMER_MS, Math.max(0, next - now)));
    timer.unref();
    this.timers.set(key, timer);
  }

  private async save(key: string, run: PausedRun): Promise<void> {
    this.known.set(key, run);
    await this.runs.save(key, run);
  }

  private clearTimer(key: string): void {
    const t = this.timers.get(key);
    if (t) clearTimeout(t);
    this.timers.delete(key);
  }

  private failed(e: unknown, run: PausedRun): void {
    this.deps.log.error({ err: String(e), roomId: run.roomId }, "paused run could not go on; it is tried again at the next start");
  }
}

function keyOf(roomId: string, runId: string): string {
  return txnIdFor(runId, roomId, "paused");
}
