// Bounds how far V8 lets the heap grow between two full collections while the bot works through a burst.
// During a burst (a turn in each of 1,000 rooms at once, a fan-out to 10,000) every turn's objects live for the whole
// batch, so they survive the young generation's collections and are promoted to the old space, where they die soon
// after. V8 lets the old space grow to up to four times what was live after the last full collection before it
// collects again (its factor follows its GC speed): with ~50 MB live, 200-360 MB of heap, mostly garbage, and the
// RSS with it (bench/README.md, "Memory and fan-out (issue 31)"). `--heap-growing-percent=N` fixes the factor at
// 1 + N/100: full collections come sooner and each is as cheap as before (their work follows the live heap, not the
// garbage), so the heap stays near the live size at the cost of more of them: ~10 % more CPU per turn under sustained
// load (3-4x the full collections). Session 38 measured V8's own factor (0) against it: the CPU back, but the
// 10,000-room fan-out once grew +52 MB (a full collection during it) and the RSS 2 s after a second pass 154 MB at
// load 20, so the bound stays for bursts (bench/README.md, "GC and the heap bound (session 38)"). Under sustained load
// (the event loop over half busy for 10 s: longer than a fan-out to 10,000 rooms takes) the idle collector lifts it
// (`HeapGrowth.lift`: V8's own factor, the 10 % back where the load pays for it) and sets it again as soon as the load
// drops, before the next burst or the idle compaction (bench/README.md, "Session 39, garbage collection").
// The flag is read by V8 at each full collection, so it can be set at run time; a value given on node's command line
// (`node --heap-growing-percent=0 dist/src/main.js`: V8's own factor throughout) is left as it is.
import * as v8 from "node:v8";

/** The heap may grow by this share of what was live after the last full collection before the next one. */
export const HEAP_GROWING_PERCENT = 50;

/** Sets V8's heap growing factor unless `execArgv` (node's command line) sets it. Returns the percent set, if any. */
export function boundHeapGrowth(execArgv: readonly string[], percent = HEAP_GROWING_PERCENT): number | undefined {
  if (execArgv.some((arg) => /^--heap[-_]growing[-_]percent\b/.test(arg))) return undefined;
  v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
  return percent;
}

/** The bound, switched off under sustained load and on again after it (by the idle collector, which watches the loop). */
export interface HeapGrowthSwitch {
  /** Whether the bound is set now. */
  readonly bounded: boolean;
  /** V8's own factor from the next full collection on. */
  lift(): void;
  /** The bound again from the next full collection on. */
  bound(): void;
}

/** The bound as boundHeapGrowth sets it at start, or undefined when node's command line chose the factor. */
export function heapGrowthSwitch(execArgv: readonly string[], percent = HEAP_GROWING_PERCENT,
  setFlag: (flag: string) => void = (flag) => v8.setFlagsFromString(flag)): HeapGrowthSwitch | undefined {
  if (boundHeapGrowth(execArgv, percent) === undefined) return undefined;
  let bounded = true;
  return {
    get bounded() {
      return bounded;
    },
    lift() {
      if (!bounded) return;
      setFlag("--heap-growing-percent=0");
      bounded = false;
    },
    bound() {
      if (bounded) return;
      setFlag(`--heap-growing-percent=${percent}`);
      bounded = true;
    },
  };
}
