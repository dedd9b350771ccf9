// Bounded cost: at most `maxConcurrent` agent runs in flight at once (all rooms together), and at most `maxPerUser`
// of them for one user (a run is charged to the sender of its batch's last message). A run beyond either limit
// waits its turn: waiters are served first come, first served, except that a waiter whose user is at their own
// limit lets the ones behind it pass (one busy user never holds up the others).

export interface RunLimits {
  /** AGENT_MAX_CONCURRENT_RUNS. */
  maxConcurrent: number;
  /** AGENT_MAX_RUNS_PER_USER. */
  maxPerUser: number;
}

/** A granted slot; release it exactly once when the run is over. */
export type ReleaseSlot = () => void;

interface Waiter {
  user: string;
  grant: (release: ReleaseSlot) => void;
}

export class RunLimiter {
  private running = 0;
  private readonly perUser = new Map<string, number>();
  private readonly waiters: Waiter[] = [];

  constructor(private readonly limits: RunLimits) {}

  /** Whether a run for `user` would have to wait now. */
  mustWait(user: string): boolean {
    return this.waiters.length > 0 ? !this.canStartBehindWaiters(user) : !this.hasRoomFor(user);
  }

  /** Runs for `user` waiting for a slot. */
  waitingFor(user: string): number {
    return this.waiters.filter((w) => w.user === user).length;
  }

  get inFlight(): number {
    return this.running;
  }

  /**
   * A slot for a run of `user`, at once when one is free, else when one is. `undefined` when `signal` aborts first
   * (the run was stopped while it waited).
   */
  acquire(user: string, signal?: AbortSignal): Promise<ReleaseSlot | undefined> {
    if (signal?.aborted) return Promise.resolve(undefined);
    if (!this.mustWait(user)) return Promise.resolve(this.take(user));
    return new Promise((resolve) => {
      const waiter: Waiter = {
        user,
        grant: (release) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(release);
        },
      };
      const onAbort = (): void => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        resolve(undefined);
        this.serve(); // a waiter behind it may be free to go now
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private hasRoomFor(user: string): boolean {
    return this.running < this.limits.maxConcurrent && (this.perUser.get(user) ?? 0) < this.limits.maxPerUser;
  }

  /** With others waiting, a newcomer goes first only if no waiter could take the free slot. */
  private canStartBehindWaiters(user: string): boolean {
    return this.hasRoomFor(user) && !this.waiters.some((w) => this.hasRoomFor(w.user));
  }

  private take(user: string): ReleaseSlot {
    this.running += 1;
    this.perUser.set(user, (this.perUser.get(user) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running -= 1;
      const left = (this.perUser.get(user) ?? 1) - 1;
      if (left > 0) this.perUser.set(user, left);
      else this.perUser.delete(user);
      this.serve();
    };
  }

  private serve(): void {
    for (let i = 0; i < this.waiters.length && this.running < this.limits.maxConcurrent;) {
      const waiter = this.waiters[i];
      if (waiter && this.hasRoomFor(waiter.user)) {
        this.waiters.splice(i, 1);
        waiter.grant(this.take(waiter.user));
      } else {
        i += 1;
      }
    }
  }
}
