// Gives back the memory a burst left behind. After a burst of turns (say one in each of 10,000 rooms) V8 keeps the
// heap it grew: the live heap is ~60 MB but 140-250 MB stay committed, and V8's own memory reducer did not collect
// them in 15 s idle (bench/README.md, "Memory and fan-out"). So once the bot is idle (its event loop ≥ 95 % free for
// a whole check interval, 5 s) and the heap grew by `growthBytes` since the last collection, or it holds `slackBytes`
// more committed but unused pages than after the last one (V8 collected the garbage by itself, which it does early
// since the heap's growth is bounded (heap-growth.ts), but kept the pages, and the young generation at its largest),
// this asks for one full collection that compacts every page (~0.2-0.5 s of work when nothing waits). A plain full collection frees the
// garbage but keeps the pages it was spread over (measured: 300 MB committed for 16 MB live stays 285 MB); compacted,
// the committed heap falls to what is live plus a margin, and RSS with it.
// Under steady load it never runs: V8's own collections pace themselves then.
// `gc` is exposed the way Jest does it for --logHeapUsage: the flag set at run time, read by one new context; the
// compaction flag is set for that one collection only.
import { performance, type EventLoopUtilization } from "node:perf_hooks";
import * as v8 from "node:v8";
import * as vm from "node:vm";
import type { Logger } from "pino";

export interface IdleCollectorOptions {
  log: Logger;
  /** How often the heap and the event loop are looked at. Default 5 s (1 s was tried: under a loaded machine the
   *  bot's periodic work kept a 1 s window over 5 % busy, and it collected later, not sooner). */
  intervalMs?: number;
  /** Heap growth since the last collection that is worth one. Default 32 MB. */
  growthBytes?: number;
  /** Heap committed and unused, beyond what the last collection left, that is worth one. Default 16 MB (seen: 31 MB
   *  left after a second burst, 82 MB committed for 49 MB live, most of it the young generation at its largest). */
  slackBytes?: number;
  /** The event loop's busy share over an interval at or under which the bot counts as idle. Default 0.05. */
  idleUtilization?: number;
  /** For tests: the heap in use, the loop's busy share since the last call, and the collector. */
  heapUsed?: () => number;
  /** For tests: the heap's committed bytes not in use. */
  heapSlack?: () => number;
  utilization?: () => number;
  gc?: () => void;
}

/** A full collection that compacts the whole heap, or undefined where V8 refuses to expose its collector. */
export function exposeGc(): (() => void) | undefined {
  let gc: unknown = (globalThis as { gc?: unknown }).gc;
  try {
    if (typeof gc !== "function") {
      v8.setFlagsFromString("--expose-gc");
      gc = vm.runInNewContext("gc") as unknown;
      v8.setFlagsFromString("--no-expose-gc");
    }
  } catch {
    return undefined;
  }
  if (typeof gc !== "function") return undefined;
  const collect = gc as () => void;
  return () => {
    v8.setFlagsFromString("--compact-on-every-full-gc");
    try {
      collect();
    } finally {
      v8.setFlagsFromString("--no-compact-on-every-full-gc");
    }
  };
}

export class IdleCollector {
  private readonly heapUsed: () => number;
  private readonly heapSlack: () => number;
  private readonly utilization: () => number;
  private readonly gc: (() => void) | undefined;
  private readonly growthBytes: number;
  private readonly slackBytes: number;
  private readonly idleUtilization: number;
  private baseline: number;
  private slackBaseline: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: IdleCollectorOptions) {
    this.heapUsed = opts.heapUsed ?? (() => v8.getHeapStatistics().used_heap_size);
    this.heapSlack = opts.heapSlack ?? heapSlack;
    this.utilization = opts.utilization ?? loopUtilization();
    this.gc = opts.gc ?? exposeGc();
    this.growthBytes = opts.growthBytes ?? 32 * 1024 * 1024;
    this.slackBytes = opts.slackBytes ?? 16 * 1024 * 1024;
    this.idleUtilization = opts.idleUtilization ?? 0.05;
    this.baseline = this.heapUsed();
    this.slackBaseline = this.heapSlack();
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
    this.timer = undefined;
  }

  /** One look: collects when the heap grew enough since the last collection and the loop was idle. Returns whether it did. */
  check(): boolean {
    const busy = this.utilization();
    const used = this.heapUsed();
    const slack = this.heapSlack();
    if (used < this.baseline) this.baseline = used; // V8 collected on its own
    if (slack < this.slackBaseline) this.slackBaseline = slack;
    const worth = used - this.baseline >= this.growthBytes || slack - this.slackBaseline >= this.slackBytes;
    if (this.gc === undefined || !worth || busy > this.idleUtilization) return false;
    const startedAt = performance.now();
    this.gc();
    this.baseline = this.heapUsed();
    this.slackBaseline = this.heapSlack();
    this.opts.log.debug({ beforeMb: mb(used), afterMb: mb(this.baseline), committedMb: mb(v8.getHeapStatistics().total_heap_size),
      ms: Math.round(performance.now() - startedAt) },
      "idle: heap collected after a burst");
    return true;
  }
}

/** Heap committed but not in use (V8 keeps emptied pages, and the young generation as large as a burst made it). */
function heapSlack(): number {
  const heap = v8.getHeapStatistics();
  return Math.max(0, heap.total_heap_size - heap.used_heap_size);
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
