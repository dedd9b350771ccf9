// Scheduled proactive check-ins: PROACTIVE_SCHEDULE (cron via croner, seconds allowed) fires, the agent
// is asked PROACTIVE_PROMPT (the LLM, or in echo mode the prompt text itself), and a non-empty answer
// without the no-op marker becomes an agent-initiated proactive run for `*` (every opted-in room).
// Time comes from an injectable clock so tests need not wait for the wall clock.
import { Cron } from "croner";
import type { Logger } from "pino";
import { MAX_TIMER_MS } from "../config/schema";

export interface TimerHandle {
  clear(): void;
}

/** What the schedule needs of time. The default uses Date and unref'd setTimeout. */
export interface SchedulerClock {
  now(): Date;
  /** Call `fn` once after `ms`; the timer must not keep the process alive. */
  setTimer(fn: () => void, ms: number): TimerHandle;
}

export const systemClock: SchedulerClock = {
  now: () => new Date(),
  setTimer: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return { clear: () => clearTimeout(t) };
  },
};

export interface CronScheduleOptions {
  clock?: SchedulerClock;
  /** IANA time zone of the pattern; default the process's local time zone. */
  timezone?: string;
  logger: Logger;
}

/** Calls `onTick` at every time the cron pattern names. A tick still running when the next comes is not overlapped. */
export class CronSchedule {
  private readonly cron: Cron;
  private readonly clock: SchedulerClock;
  private timer: TimerHandle | undefined;
  private next: Date | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  /** Ticks skipped because the previous one was still running. */
  skipped = 0;

  constructor(
    pattern: string,
    private readonly onTick: () => Promise<void>,
    private readonly options: CronScheduleOptions,
  ) {
    this.cron = new Cron(pattern, { paused: true, ...(options.timezone !== undefined ? { timezone: options.timezone } : {}) });
    this.clock = options.clock ?? systemClock;
  }

  /** When the next tick is due (undefined when stopped or the pattern has no future time). */
  nextRun(): Date | undefined {
    return this.stopped ? undefined : this.next;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.plan(this.clock.now());
  }

  /** Resolves once a tick in progress (if any) has ended. */
  async idle(): Promise<void> {
    await this.running;
  }

  /** Stop ticking; resolves once a tick in progress has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.clear();
    this.timer = undefined;
    await this.running;
  }

  private plan(after: Date): void {
    if (this.stopped) return;
    this.next = this.cron.nextRun(after) ?? undefined;
    if (!this.next) {
      this.options.logger.warn("proactive schedule: the pattern names no future time; no more check-ins");
      return;
    }
    this.arm();
  }

  private arm(): void {
    const due = this.next;
    if (this.stopped || !due) return;
    const wait = Math.min(Math.max(0, due.getTime() - this.clock.now().getTime()), MAX_TIMER_MS);
    this.timer = this.clock.setTimer(() => this.fire(due), wait);
  }

  private fire(due: Date): void {
    this.timer = undefined;
    if (this.stopped) return;
    // Timers may fire early (or a far-off time needs several timers): wait for the remainder.
    if (this.clock.now().getTime() < due.getTime()) return this.arm();
    if (this.running) {
      this.skipped += 1;
      this.options.logger.warn({ due: due.toISOString() }, "proactive schedule: the previous check-in is still running; skipped");
    } else {
      this.running = this.onTick()
        .catch((err: unknown) => this.options.logger.error({ err }, "proactive schedule: the check-in failed"))
        .finally(() => {
          this.running = undefined;
        });
    }
    this.plan(new Date(Math.max(due.getTime(), this.clock.now().getTime())));
  }
}

export type CheckInResult = "sent" | "nothing" | "failed";

export interface ProactiveCheckInsOptions {
  schedule: string;
  prompt: string;
  /** An answer containing this (after trimming), or an empty one, sends nothing. */
  noopMarker: string;
  /** The answer to a check-in prompt: the LLM, or in echo mode the prompt itself. Throws on failure. */
  produce: (prompt: string, signal: AbortSignal) => Promise<string>;
  /** Send the answer as a proactive run for `*` (ReferenceAgent.emitProactive). */
  emit: (text: string) => Promise<unknown>;
  logger: Logger;
  clock?: SchedulerClock;
  timezone?: string;
}

/** The prompt an LLM gets at a check-in: the operator's prompt, the time, and how to say "nothing". */
export function checkInPrompt(prompt: string, noopMarker: string, now: Date): string {
  return `${prompt}\n\n(Current time: ${now.toISOString()}. If there is nothing worth posting, answer with exactly ${noopMarker} and nothing else.)`;
}

export interface CheckInStats {
  sent: number;
  nothing: number;
  failed: number;
  /** Scheduled times skipped because the previous check-in was still running. */
  skipped: number;
}

export class ProactiveCheckIns {
  private readonly schedule: CronSchedule;
  private readonly inFlight = new AbortController();
  private readonly counts: Record<CheckInResult, number> = { sent: 0, nothing: 0, failed: 0 };

  constructor(private readonly options: ProactiveCheckInsOptions) {
    this.schedule = new CronSchedule(options.schedule, async () => void (await this.runOnce()), {
      logger: options.logger,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.timezone !== undefined ? { timezone: options.timezone } : {}),
    });
  }

  start(): void {
    this.schedule.start();
    const next = this.schedule.nextRun();
    this.options.logger.info({ schedule: this.options.schedule, next: next?.toISOString() }, "proactive check-ins scheduled");
  }

  /** Stop the schedule and abort a check-in in progress. */
  async stop(): Promise<void> {
    this.inFlight.abort();
    await this.schedule.stop();
  }

  nextRun(): Date | undefined {
    return this.schedule.nextRun();
  }

  /** Resolves once a scheduled check-in in progress (if any) has ended. */
  idle(): Promise<void> {
    return this.schedule.idle();
  }

  stats(): CheckInStats {
    return { ...this.counts, skipped: this.schedule.skipped };
  }

  /** One check-in now: ask, then emit unless the answer is empty or contains the no-op marker. */
  async runOnce(): Promise<CheckInResult> {
    const result = await this.attempt();
    this.counts[result] += 1;
    return result;
  }

  private async attempt(): Promise<CheckInResult> {
    const log = this.options.logger;
    let answer: string;
    try {
      answer = (await this.options.produce(this.options.prompt, this.inFlight.signal)).trim();
    } catch (err) {
      if (!this.inFlight.signal.aborted) log.warn({ code: (err as { code?: unknown }).code }, "proactive check-in: no answer; nothing sent");
      return "failed";
    }
    if (answer === "" || answer.includes(this.options.noopMarker)) {
      log.info("proactive check-in: nothing to say");
      return "nothing";
    }
    if (this.inFlight.signal.aborted) return "failed";
    try {
      const run = await this.options.emit(answer);
      log.info({ run }, "proactive check-in sent");
      return "sent";
    } catch (err) {
      log.error({ err }, "proactive check-in: the run could not be journaled; nothing sent");
      return "failed";
    }
  }
}
