// A clock the test moves by hand, for the reference agent's proactive schedule (SchedulerClock).
import type { SchedulerClock, TimerHandle } from "../../src/reference-agent/schedule";

/** Timers fire in order as the test moves time forward. */
export class ManualClock implements SchedulerClock {
  private timers: Array<{ at: number; fn: () => void; live: boolean }> = [];
  constructor(private t: number) {}

  now(): Date {
    return new Date(this.t);
  }

  setTimer(fn: () => void, ms: number): TimerHandle {
    const timer = { at: this.t + ms, fn, live: true };
    this.timers.push(timer);
    return { clear: () => void (timer.live = false) };
  }

  pending(): number {
    return this.timers.filter((t) => t.live).length;
  }

  /** Move to `iso`, firing every timer due on the way (letting the work they start settle in between). */
  async advanceTo(iso: string): Promise<void> {
    const target = Date.parse(iso);
    for (;;) {
      const due = this.timers.filter((t) => t.live && t.at <= target).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      due.live = false;
      this.t = Math.max(this.t, due.at);
      due.fn();
      await new Promise((r) => setImmediate(r));
    }
    this.timers = this.timers.filter((t) => t.live);
    this.t = target;
  }
}
