// Bytes of media held in memory at once (MEDIA_MAX_INFLIGHT_BYTES): a download reserves what it may read before it
// starts (the declared size, else MEDIA_MAX_BYTES), gives back what it did not use, and holds the rest until its
// turn is settled. Reservations wait in order of arrival; one reservation never exceeds the total.

export interface Reservation {
  readonly bytes: number;
  /** Keep only `bytes` of this reservation (what was actually read); the rest goes back at once. */
  shrink(bytes: number): void;
  /** Give everything back; idempotent. */
  release(): void;
}

interface Waiter {
  bytes: number;
  grant(reservation: Reservation): void;
}

export class ByteBudget {
  private used = 0;
  private readonly waiters: Waiter[] = [];

  constructor(readonly total: number) {}

  get inUse(): number {
    return this.used;
  }

  /** Resolves once `bytes` (at most the total) are free; undefined when `signal` aborted first. */
  reserve(bytes: number, signal?: AbortSignal): Promise<Reservation | undefined> {
    const wanted = Math.min(Math.max(0, bytes), this.total);
    if (this.waiters.length === 0 && this.used + wanted <= this.total) return Promise.resolve(this.grant(wanted));
    if (signal?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const waiter: Waiter = { bytes: wanted, grant: resolve };
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(undefined);
        this.wake();
      };
      waiter.grant = (r) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(r);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private grant(bytes: number): Reservation {
    this.used += bytes;
    let held = bytes;
    const giveBack = (amount: number): void => {
      this.used -= amount;
      held -= amount;
      this.wake();
    };
    return {
      get bytes() {
        return held;
      },
      shrink: (keep) => {
        if (keep < held) giveBack(held - Math.max(0, keep));
      },
      release: () => {
        if (held > 0) giveBack(held);
      },
    };
  }

  private wake(): void {
    for (;;) {
      const next = this.waiters[0];
      if (!next || this.used + next.bytes > this.total) return;
      this.waiters.shift();
      next.grant(this.grant(next.bytes));
    }
  }
}
