// The encryption part of /metrics (src/metrics.ts registers it): unreadable encrypted messages by cause (a fixed set,
// every value shown from the start), late decryptions, held and dropped messages, and the key backup's lag.
import { Counter, Gauge, type Registry } from "prom-client";
import { UNDECRYPTABLE_CAUSES, type UndecryptableCause } from "./matrix/crypto/decrypt-cause";

type MetricName = "undecryptable_events_total" | "late_decryptions_total" | "undecryptable_held" | "undecryptable_dropped_total" | "key_backup_lag";

export class CryptoMetrics {
  private readonly undecryptableEvents: Counter<"cause">;
  private readonly lateDecryptions: Counter;
  private readonly heldEvents: Gauge;
  private readonly droppedEvents: Counter<"why">;
  private backupLagProbe: (() => number | undefined) | undefined;

  /** `name`: the metric's full name, help and registry (Metrics'). */
  constructor(name: (key: MetricName) => { name: string; help: string; registers: Registry[] }) {
    this.undecryptableEvents = new Counter({ ...name("undecryptable_events_total"), labelNames: ["cause"] });
    for (const cause of UNDECRYPTABLE_CAUSES) this.undecryptableEvents.inc({ cause }, 0);
    this.lateDecryptions = new Counter(name("late_decryptions_total"));
    this.heldEvents = new Gauge(name("undecryptable_held"));
    this.droppedEvents = new Counter({ ...name("undecryptable_dropped_total"), labelNames: ["why"] });
    const backupLag = (): number | undefined => this.backupLagProbe?.();
    new Gauge({ ...name("key_backup_lag"), collect() { // read at scrape time
      this.set(backupLag() ?? 0);
    } });
  }

  /** An allowed user's encrypted message could not be read when it came. */
  undecryptable(cause: UndecryptableCause): void {
    this.undecryptableEvents.inc({ cause });
  }

  /** A message was read after all: its room key came late. */
  lateDecrypted(): void {
    this.lateDecryptions.inc();
  }

  /** Unreadable messages kept now. */
  undecryptableHeld(count: number): void {
    this.heldEvents.set(Math.max(0, count));
  }

  /** Unreadable messages dropped unread. */
  undecryptableDropped(count: number, why: "full" | "expired"): void {
    if (count > 0) this.droppedEvents.inc({ why }, count);
  }

  /** The key backup's lag (room keys not backed up yet), read at every scrape; undefined: backup off (0). */
  watchBackupLag(probe: () => number | undefined): void {
    this.backupLagProbe = probe;
  }
}
