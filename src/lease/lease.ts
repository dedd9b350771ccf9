// The lease that makes exactly one bot process of a shared store active. The active renews it every third of
// LEASE_MS and keeps a local deadline: the time it sent its last successful renewal (or acquisition) plus LEASE_MS
// minus a safety margin (a fifth). The server's expiry is later than that (it counts from when the statement
// arrived), so while the local deadline holds, no other process can hold the lease. Before every send and every
// journal claim the active waits for the lease (whenHeld): at once while the deadline holds; past it (a renewal late:
// a busy event loop, a slow store) sends and claims wait until a renewal is confirmed by the server, which proves no
// one else took it meanwhile. The lease is lost, and onLost runs at once (the process exits, see src/main.ts), when
// the server refuses a renewal (it expired or another instance took it) or no renewal succeeds within LEASE_MS past
// the deadline; every later check throws.
import { hostname } from "node:os";
import type { Logger } from "pino";
import { processAlive } from "../util/process-alive";
import { parseHolder, type LeaseHolder, type LeaseStore } from "./lease-store";

export class LeaseLostError extends Error {
  constructor(what: string) {
    super(`the store lease is not held (another instance may be active): ${what} refused`);
    this.name = "LeaseLostError";
  }
}

export interface LeaseOptions {
  store: LeaseStore;
  leaseMs: number;
  /** This process's instance: its DATA_DIR. */
  instance: string;
  log: Logger;
  /** Runs once, when the lease is lost. */
  onLost: (why: string) => void;
  /** A renewal failed: `error` (the store could not be reached; tried again), `refused` (the lease is lost). */
  onRenewalFailed?: (why: "error" | "refused") => void;
  now?: () => number;
  /** Whether a process of this host is alive (a restart recognises its former self). Default: signal 0. */
  isAlive?: (pid: number) => boolean;
}

export class Lease {
  readonly holder: LeaseHolder;
  private readonly holderText: string;
  private token: number | undefined;
  private deadline = 0;
  /** When the last successful renewal (or the acquisition) was sent; 0 before. */
  private renewedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private lost: string | undefined;
  /** Sends and claims waiting for an overdue renewal. */
  private waiters: Array<{ resolve: () => void; reject: () => void }> = [];
  private stopped = false;
  private readonly now: () => number;
  /** The safety margin under LEASE_MS of the local deadline: a fifth of the lease. */
  readonly marginMs: number;

  constructor(private readonly opts: LeaseOptions) {
    this.now = opts.now ?? Date.now;
    this.marginMs = Math.ceil(opts.leaseMs / 5);
    this.holder = { id: `${process.pid}-${Math.random().toString(36).slice(2, 10)}`, host: hostname(), pid: process.pid, instance: opts.instance };
    this.holderText = JSON.stringify(this.holder);
  }

  /** The fencing token, while held. */
  get fencingToken(): number | undefined {
    return this.held() ? this.token : undefined;
  }

  /**
   * For /metrics: whether this process is the active one (it took the lease and has not lost or released it, even
   * while a renewal is overdue), its fencing token, and, while active, the ms until the local deadline (negative
   * once past it) and since the last successful renewal.
   */
  status(): { active: boolean; token?: number; deadlineInMs?: number; renewedAgoMs?: number } {
    if (this.token === undefined || this.lost !== undefined || this.stopped) return { active: false };
    const now = this.now();
    return { active: true, token: this.token, deadlineInMs: this.deadline - now, renewedAgoMs: now - this.renewedAt };
  }

  /** Whether the lease is held and its local deadline has not passed. */
  held(): boolean {
    return this.token !== undefined && this.lost === undefined && this.now() < this.deadline;
  }

  /**
   * Resolves when this process may send or claim (before every send and journal claim): at once while the local
   * deadline holds, else once a renewal is confirmed; rejects with LeaseLostError when the lease is lost.
   */
  async whenHeld(what: string): Promise<void> {
    if (this.held()) return;
    if (this.token === undefined || this.lost !== undefined) throw new LeaseLostError(what);
    await new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject: () => reject(new LeaseLostError(what)) }));
  }

  /** The holder of the lease now, if another process holds it (read for logs and the e2ee check). */
  async currentHolder(): Promise<{ holder: LeaseHolder | undefined; remainingMs: number; token: number } | undefined> {
    const record = await this.opts.store.read();
    if (!record || record.remainingMs <= 0) return undefined;
    return { holder: parseHolder(record.holder), remainingMs: record.remainingMs, token: record.token };
  }

  /**
   * Waits until this process holds the lease, trying every `pollMs`; resolves with the fencing token. A lease held
   * by this instance's former self (same host and DATA_DIR, its process gone) is taken at once. `cancelled` ends
   * the wait (the process is stopping): then it rejects.
   */
  async acquire(pollMs: number, cancelled: () => boolean, onWaiting: (holder: LeaseHolder | undefined, remainingMs: number) => void): Promise<number> {
    let told = false;
    for (;;) {
      if (cancelled()) throw new Error("stopped while waiting for the store lease");
      const sentAt = this.now();
      let waitingFor: { holder: LeaseHolder | undefined; remainingMs: number } | undefined;
      try {
        let token = await this.opts.store.acquire(this.holderText, this.opts.leaseMs);
        if (token === undefined) {
          const current = await this.opts.store.read();
          const holder = current ? parseHolder(current.holder) : undefined;
          if (current && holder && this.isFormerSelf(holder)) {
            token = await this.opts.store.acquire(this.holderText, this.opts.leaseMs, current.token);
            if (token !== undefined) this.opts.log.info({ formerPid: holder.pid }, "store lease taken from this instance's previous process, which is gone");
          } else if (!told && current) {
            told = true;
            waitingFor = { holder, remainingMs: current.remainingMs };
          }
        }
        if (token !== undefined) {
          this.took(token, sentAt);
          return token;
        }
      } catch (error) {
        this.opts.log.warn({ err: describe(error) }, "could not reach the store lease; trying again");
      }
      if (waitingFor) onWaiting(waitingFor.holder, waitingFor.remainingMs); // may throw: this process will not wait
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  private isFormerSelf(holder: LeaseHolder): boolean {
    if (holder.id === this.holder.id || holder.host !== this.holder.host || holder.instance !== this.holder.instance) return false;
    return holder.pid === this.holder.pid || !(this.opts.isAlive ?? processAlive)(holder.pid);
  }

  private took(token: number, sentAt: number): void {
    this.token = token;
    this.extend(sentAt);
    this.scheduleRenewal();
  }

  private extend(sentAt: number): void {
    this.renewedAt = sentAt;
    this.deadline = sentAt + this.opts.leaseMs - this.marginMs;
    clearTimeout(this.deadlineTimer);
    // Past the deadline without a renewal: sends wait (whenHeld); past it by a whole lease: lost.
    this.deadlineTimer = setTimeout(() => {
      if (this.stopped || this.lost !== undefined) return;
      this.opts.log.warn({ fencingToken: this.token }, "store lease renewal overdue: sends and journal claims wait for it");
      this.deadlineTimer = setTimeout(() => this.lose(`no renewal succeeded within ${this.opts.leaseMs} ms past its local deadline`), this.opts.leaseMs);
      this.deadlineTimer.unref();
    }, Math.max(0, this.deadline - this.now()) + 1);
    this.deadlineTimer.unref();
    if (this.held()) for (const waiter of this.waiters.splice(0)) waiter.resolve();
  }

  private scheduleRenewal(): void {
    this.timer = setTimeout(() => void this.renew(), Math.max(1, Math.floor(this.opts.leaseMs / 3)));
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    const token = this.token;
    if (this.stopped || this.lost !== undefined || token === undefined) return;
    const sentAt = this.now();
    try {
      const ok = await this.opts.store.renew(this.holderText, token, this.opts.leaseMs);
      if (this.stopped || this.lost !== undefined) return;
      if (!ok) {
        this.opts.onRenewalFailed?.("refused");
        this.lose("the store refused its renewal (it expired or another instance took it)");
        return;
      }
      if (sentAt + this.opts.leaseMs - this.marginMs > this.deadline) this.extend(sentAt);
    } catch (error) {
      this.opts.onRenewalFailed?.("error");
      this.opts.log.warn({ err: describe(error), fencingToken: token }, "could not renew the store lease; trying again");
    }
    this.scheduleRenewal();
  }

  private lose(why: string): void {
    if (this.lost !== undefined || this.stopped) return;
    this.lost = why;
    clearTimeout(this.timer);
    clearTimeout(this.deadlineTimer);
    this.opts.log.fatal({ fencingToken: this.token, why }, "lost the store lease: this process stops processing at once");
    for (const waiter of this.waiters.splice(0)) waiter.reject();
    this.opts.onLost(why);
  }

  /** A clean stop: lets the lease go, so a standby takes over without waiting for it to expire. */
  async release(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.deadlineTimer);
    const token = this.token;
    if (token !== undefined && this.lost === undefined) {
      await this.opts.store.release(this.holderText, token).catch((error: unknown) =>
        this.opts.log.warn({ err: describe(error) }, "could not release the store lease; it expires by itself"));
    }
    this.token = undefined;
    for (const waiter of this.waiters.splice(0)) waiter.reject();
    await this.opts.store.close().catch(() => undefined);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
