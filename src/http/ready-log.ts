// The `ready` log line, by the rule of GET /readyz: the same ReadinessTracker report decides both. After start the
// report is read once: `ready` (info) when it says ready, else `not ready` (warn) naming the failing checks. It is
// read again whenever something it depends on changes (agent link, token, shutdown) and, while not ready, every
// `recheckMs`; each change between ready and not ready is logged once. So an operator who sees `ready` in the log
// gets 200 from /readyz, and a bot that never logs `ready` says why.
import type { Logger } from "pino";
import type { ReadinessReport, ReadinessTracker } from "./readiness";

export interface ReadyLogOptions {
  tracker: Pick<ReadinessTracker, "report" | "onChange">;
  log: Logger;
  /** Extra fields of the `ready` line (e.g. which agent). */
  fields?: Record<string, unknown>;
  /** How often the report is read again while not ready. Default 1000. */
  recheckMs?: number;
}

export class ReadyLog {
  private lastReady: boolean | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private stopped = false;

  constructor(private readonly opts: ReadyLogOptions) {}

  /** Start-up is over: reads the report now and follows its changes from here on. */
  start(): void {
    this.unsubscribe ??= this.opts.tracker.onChange(() => this.check());
    this.check();
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    clearTimeout(this.timer);
  }

  /** Reads the report (coalesced: one read at a time, one more if asked meanwhile). */
  check(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.read().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.check();
      }
    });
  }

  private async read(): Promise<void> {
    let report: ReadinessReport;
    try {
      report = await this.opts.tracker.report();
    } catch (error) {
      this.opts.log.warn({ err: String(error) }, "readiness could not be read");
      this.schedule();
      return;
    }
    if (this.stopped || report.stopping === true) return;
    if (report.ready !== this.lastReady) {
      this.lastReady = report.ready;
      if (report.ready) this.opts.log.info({ ...this.opts.fields }, "ready");
      else {
        const failing = Object.fromEntries(report.notReady.map((name) => [name, report.checks[name].detail]));
        this.opts.log.warn({ notReady: report.notReady, ...failing }, "not ready (GET /readyz says why; the bot keeps trying)");
      }
    }
    if (!report.ready) this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.check(), this.opts.recheckMs ?? 1000);
    this.timer.unref();
  }
}
