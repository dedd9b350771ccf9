// Gives back the memory a burst left behind. After a burst of turns (say one in each of 10,000 rooms) V8 keeps the
// heap it grew: the live heap is ~60 MB but 140-250 MB stay committed, and V8's own memory reducer did not collect
// them in 15 s idle (bench/README.md, "Memory and fan-out"). So once the bot is idle (its event loop ≥ 95 % free for
// a whole check interval) and the heap grew by `growthBytes` since the last collection, this asks for a full
// collection: ~100-250 ms of work when nothing waits. One collection frees the garbage but gives back only part of
// the committed heap (pages are compacted a few at a time), so, like V8's memory reducer, up to `followUps` more
// follow, a second apart and only while idle, as long as each still gives back ≥ 4 MB.
// Under steady load it never runs: V8's own collections pace themselves then.
// `gc` is exposed the way Jest does it for --logHeapUsage: the flag set at run time, read by one new context.
import { performance, type EventLoopUtilization } from "node:perf_hooks";
import * as v8 from "node:v8";
import * as vm from "node:vm";
import type { Logger } from "pino";

export interface IdleCollectorOptions {
  log: Logger;
  /** How often the heap and the event loop are looked at. Default 5 s. */
  intervalMs?: number;
  /** Heap growth since the last collection that is worth one. Default 32 MB. */
  growthBytes?: number;
  /** The event loop's busy share over an interval at or under which the bot counts as idle. Default 0.05. */
  idleUtilization?: number;
  /** Further collections after one, while each gives back committed heap. Default 3. */
  followUps?: number;
  /** For tests: the heap in use and committed, the loop's busy share since the last call, and the collector. */
  heapUsed?: () => number;
  heapCommitted?: () => number;
  utilization?: () => number;
  gc?: () => void;
}

/** The full collector, or undefined where V8 refuses to expose it. */
export function exposeGc(): (() => void) | undefined {
  const global = globalThis as { gc?: unknown };
  if (typeof global.gc === "function") return global.gc as () => void;
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as unknown;
    v8.setFlagsFromString("--no-expose-gc");
    return typeof gc === "function" ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

export class IdleCollector {
  private readonly heapUsed: () => number;
  private readonly heapCommitted: () => number;
  private readonly utilization: () => number;
  private readonly gc: (() => void) | undefined;
  private readonly growthBytes: number;
  private readonly idleUtilization: number;
  private baseline: number;
  /** Follow-up collections left, and the committed heap after the last collection. */
  private followUpsLeft = 0;
  private committedAfter = 0;
  private timer: NodeJS.Timeout | undefined;
  private followUpTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: IdleCollectorOptions) {
    this.heapUsed = opts.heapUsed ?? (() => v8.getHeapStatistics().used_heap_size);
    this.heapCommitted = opts.heapCommitted ?? (() => v8.getHeapStatistics().total_heap_size);
    this.utilization = opts.utilization ?? loopUtilization();
    this.gc = opts.gc ?? exposeGc();
    this.growthBytes = opts.growthBytes ?? 32 * 1024 * 1024;
    this.idleUtilization = opts.idleUtilization ?? 0.05;
    this.baseline = this.heapUsed();
  }

  start(): this {
    if (this.gc === undefined) {
      this.opts.log.debug("no idle collection: V8 did not expose its collector");
      return this;
    }
    this.timer = setInterval(() => this.check(), this.opts.intervalMs ?? 5000);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    if (this.followUpTimer !== undefined) clearTimeout(this.followUpTimer);
    this.timer = undefined;
  }

  /** One look: collects when the heap grew enough since the last collection, or to follow one up, and the loop was idle. */
  check(): boolean {
    const busy = this.utilization();
    const used = this.heapUsed();
    if (used < this.baseline) this.baseline = used; // V8 collected on its own
    if (this.gc === undefined || busy > this.idleUtilization) return false;
    const grown = used - this.baseline >= this.growthBytes;
    if (!grown && this.followUpsLeft === 0) return false;
    const committedBefore = grown ? this.heapCommitted() : this.committedAfter;
    const startedAt = performance.now();
    this.gc();
    const ms = Math.round(performance.now() - startedAt);
    this.baseline = this.heapUsed();
    this.committedAfter = this.heapCommitted();
    const givenBack = committedBefore - this.committedAfter;
    if (grown) this.followUpsLeft = this.opts.followUps ?? 3;
    else this.followUpsLeft = givenBack >= 4 * 1024 * 1024 ? this.followUpsLeft - 1 : 0;
    if (this.followUpsLeft > 0 && this.timer !== undefined) {
      this.followUpTimer = setTimeout(() => this.check(), 1000);
      this.followUpTimer.unref();
    }
    this.opts.log.debug({ usedBeforeMb: mb(used), usedAfterMb: mb(this.baseline), committedAfterMb: mb(this.committedAfter), ms,
      followUp: !grown }, "idle: heap collected after a burst");
    return true;
  }
}

/** The event loop's busy share since the previous call (the first call: since the process started). */
function loopUtilization(): () => number {
  let last: EventLoopUtilization | undefined;
  return () => {
    const now = performance.eventLoopUtilization();
    const share = last === undefined ? now.utilization : performance.eventLoopUtilization(now, last).utilization;
    last = now;
    return share;
  };
}

const mb = (bytes: number): number => Math.round(bytes / 1024 / 1024);
