// The store lease's part of /metrics (src/metrics.ts registers it once a process opens its lease: PostgreSQL or Redis
// only; SQLite has no lease, so no lease_* series): whether this process is the active one, its fencing token, how
// long its local deadline still holds and since when it last renewed, renewals that failed, takeovers.
import { Counter, Gauge, type Registry } from "prom-client";

type MetricName = "lease_active" | "lease_fencing_token" | "lease_deadline_seconds" | "lease_renewed_seconds_ago" |
  "lease_renewal_failures_total" | "lease_takeovers_total";

/** What the lease says about itself at scrape time (Lease.status fits). */
export interface LeaseStatusSource {
  status(): { active: boolean; token?: number; deadlineInMs?: number; renewedAgoMs?: number };
}

export class LeaseMetrics {
  private readonly failures: Counter<"why">;
  private readonly takeovers: Counter;

  /** `name`: the metric's full name, help and registry (Metrics'). */
  constructor(name: (key: MetricName) => { name: string; help: string; registers: Registry[] }, source: LeaseStatusSource) {
    // Read at scrape time; 0 while this process waits as a standby.
    const read = (pick: (s: ReturnType<LeaseStatusSource["status"]>) => number | undefined) => function (this: Gauge): void {
      this.set(pick(source.status()) ?? 0);
    };
    new Gauge({ ...name("lease_active"), collect: read((s) => (s.active ? 1 : 0)) });
    new Gauge({ ...name("lease_fencing_token"), collect: read((s) => s.token) });
    new Gauge({ ...name("lease_deadline_seconds"), collect: read((s) => (s.deadlineInMs === undefined ? undefined : s.deadlineInMs / 1000)) });
    new Gauge({ ...name("lease_renewed_seconds_ago"), collect: read((s) => (s.renewedAgoMs === undefined ? undefined : s.renewedAgoMs / 1000)) });
    this.failures = new Counter({ ...name("lease_renewal_failures_total"), labelNames: ["why"] });
    for (const why of ["error", "refused"] as const) this.failures.inc({ why }, 0);
    this.takeovers = new Counter(name("lease_takeovers_total"));
  }

  /** A renewal failed: `error` (the store could not be reached; tried again), `refused` (the lease is lost). */
  renewalFailed(why: "error" | "refused"): void {
    this.failures.inc({ why });
  }

  /** This process took the lease after waiting as a standby (another instance held it). */
  tookOver(): void {
    this.takeovers.inc();
  }
}
