// Gives back the memory a burst left behind. After a burst of turns (say one in each of 10,000 rooms) V8 keeps the
// heap it grew: the live heap is ~50 MB but 80-250 MB stay committed, and V8's own memory reducer did not collect
// them in 15 s idle (bench/README.md, "Memory and fan-out"). So once the bot is idle (its event loop ≥ 95 % free over
// the last second, looked at every 250 ms) and the heap grew by `growthBytes` since the last collection, or it holds
// `slackBytes` more committed but unused pages than after the last one (V8 collected the garbage by itself but kept
// the pages), this asks for one full collection that compacts every page (~0.1-0.5 s of work when nothing waits). A
// plain full collection frees the garbage but keeps the pages it was spread over (measured: 300 MB committed for
// 16 MB live stays 285 MB); compacted, the old space falls to what is live plus a margin, and RSS with it, about a
// second after the burst. The young generation (32 MB at its largest) V8 gives back only at a full collection after
// ~5 s of low allocation, so a collection that left that much unused is followed by one more after 6 s of quiet
// (bench/README.md, "GC and the heap bound (session 38)").
// Under steady load it never runs: V8's own collections pace themselves then.
// `gc` is exposed the way Jest does it for --logHeapUsage: the flag set at run time, read by one new context; the
// compaction flag is set for that one collection only.
import { performance, type EventLoopUtilization } from "node:perf_hooks";
import * as v8 from "node:v8";
import * as vm from "node:vm";
import type { Logger } from "pino";

const INTERVAL_MS = 250;
const IDLE_WINDOW_MS = 1000;

export interface IdleCollectorOptions {
  log: Logger;
  /** How often the heap and the event loop are looked at. Default 250 ms (a look costs microseconds). */
  intervalMs?: number;
  /** How long the event loop must have been idle (busy share over this window at or under `idleUtilization`) before
   *  a collection. Default 1 s (session 37 used one 5 s interval: the compaction came 5-10 s after a burst). */
  idleWindowMs?: number;
  /** Heap growth since the last collection that is worth one. Default 32 MB. */
  growthBytes?: number;
  /** Heap committed and unused, beyond what the last collection left, that is worth one. Default 16 MB (seen: 31 MB
   *  left after a second burst, 82 MB committed for 49 MB live, most of it the young generation at its largest). */
  slackBytes?: number;
  /** The event loop's busy share over an interval at or under which the bot counts as idle. Default 0.05. */
  idleUtilization?: number;
  /** A collection that left `slackBytes` or more committed and unused is followed by one more once the loop was quiet
   *  this long. Default 6 s: V8 gives back the young generation a burst grew (32 MB) only at a full collection after
   *  about 5 s of low allocation (its allocation rate is averaged over 5 s), not at one a second after the burst. */
  settleMs?: number;
  /** For tests: the heap in use, the loop's busy share over the idle window, and the collector. */
  heapUsed?: () => number;
  /** For tests: the heap's committed bytes not in use. */
  heapSlack?: () => number;
  utilization?: () => number;
  gc?: () => void;
  now?: () => number;
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
  private readonly settleMs: number;
  private readonly now: () => number;
  private baseline: number;
  private slackBaseline: number;
  /** Since when every look found the loop idle (undefined: the last look found it busy). */
  private quietSince: number | undefined;
  /** The last collection left slack that one after a quiet while gives back. */
  private settlePending = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: IdleCollectorOptions) {
    this.heapUsed = opts.heapUsed ?? (() => v8.getHeapStatistics().used_heap_size);
    this.heapSlack = opts.heapSlack ?? heapSlack;
    this.utilization = opts.utilization ?? loopBusyShare(opts.idleWindowMs ?? IDLE_WINDOW_MS);
    this.gc = opts.gc ?? exposeGc();
    this.growthBytes = opts.growthBytes ?? 32 * 1024 * 1024;
    this.slackBytes = opts.slackBytes ?? 16 * 1024 * 1024;
    this.idleUtilization = opts.idleUtilization ?? 0.05;
    this.settleMs = opts.settleMs ?? 6000;
    this.now = opts.now ?? (() => performance.now());
    this.baseline = this.heapUsed();
    this.slackBaseline = this.heapSlack();
  }

  /** What it works with (logged at start). */
  get settings(): { collecting: boolean; intervalMs: number; idleWindowMs: number; idleUtilization: number; growthMb: number;
    slackMb: number; settleMs: number } {
    return { collecting: this.gc !== undefined, intervalMs: this.opts.intervalMs ?? INTERVAL_MS, idleWindowMs: this.opts.idleWindowMs ?? IDLE_WINDOW_MS,
      idleUtilization: this.idleUtilization, growthMb: mb(this.growthBytes), slackMb: mb(this.slackBytes), settleMs: this.settleMs };
  }

  start(): this {
    if (this.gc === undefined) {
      this.opts.log.debug("no idle collection: V8 did not expose its collector");
      return this;
    }
    this.timer = setInterval(() => this.check(), this.opts.intervalMs ?? INTERVAL_MS);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * One look: collects when the loop was idle for a whole window and the heap grew enough since the last collection,
   * or when the last collection left slack and the loop stayed quiet `settleMs` since. Returns whether it collected.
   */
  check(): boolean {
    const busy = this.utilization();
    const used = this.heapUsed();
    const slack = this.heapSlack();
    if (used < this.baseline) this.baseline = used; // V8 collected on its own
    if (slack < this.slackBaseline) this.slackBaseline = slack;
    if (this.gc === undefined) return false;
    if (busy > this.idleUtilization) {
      this.quietSince = undefined;
      return false;
    }
    const at = this.now();
    this.quietSince ??= at;
    if (used - this.baseline >= this.growthBytes || slack - this.slackBaseline >= this.slackBytes) return this.collect(this.gc, used, false);
    if (this.settlePending && at - this.quietSince >= this.settleMs) return this.collect(this.gc, used, true);
    return false;
  }

  private collect(gc: () => void, usedBefore: number, settling: boolean): true {
    const startedAt = performance.now();
    gc();
    this.baseline = this.heapUsed();
    this.slackBaseline = this.heapSlack();
    this.settlePending = !settling && this.slackBaseline >= this.slackBytes;
    this.quietSince = undefined; // the collection itself was work: quiet counts again from the next idle look
    this.opts.log.debug({ beforeMb: mb(usedBefore), afterMb: mb(this.baseline), committedMb: mb(v8.getHeapStatistics().total_heap_size),
      ms: Math.round(performance.now() - startedAt), settling }, "idle: heap collected after a burst");
    return true;
  }
}

/** Heap committed but not in use (V8 keeps emptied pages, and the young generation as large as a burst made it). */
function heapSlack(): number {
  const heap = v8.getHeapStatistics();
  return Math.max(0, heap.total_heap_size - heap.used_heap_size);
}

/** One reading of the event loop: time spent idle and active since the process started (ms). */
export type LoopReading = Pick<EventLoopUtilization, "idle" | "active">;

/**
 * The event loop's busy share over the last `windowMs` (at least: from the newest reading that old), or 1 until it
 * has been read for that long. `read` and `now` are for tests.
 */
export function loopBusyShare(windowMs: number, read: () => LoopReading = () => performance.eventLoopUtilization(),
  now: () => number = () => performance.now()): () => number {
  const marks: { at: number; reading: LoopReading }[] = [];
  return () => {
    const at = now();
    const reading = read();
    marks.push({ at, reading });
    while (marks.length > 1 && (marks[1]?.at ?? at) <= at - windowMs) marks.shift(); // the window starts at marks[0]
    const start = marks[0];
    if (start === undefined || at - start.at < windowMs) return 1;
    const active = reading.active - start.reading.active;
    const idle = reading.idle - start.reading.idle;
    return active + idle > 0 ? active / (active + idle) : 1;
  };
}

const mb = (bytes: number): number => Math.round(bytes / 1024 / 1024);
