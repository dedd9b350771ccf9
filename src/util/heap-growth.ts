// How far V8 lets the heap grow between two full collections while the bot works through a burst.
// During a burst (a turn in each of 1,000 rooms at once, a fan-out to 10,000) every turn's objects live for the whole
// batch, so they survive the young generation's collections and are promoted to the old space, where they die soon
// after. V8 lets the old space grow to up to four times what was live after the last full collection before it
// collects again (its factor follows its GC speed). `--heap-growing-percent=N` fixes the factor at 1 + N/100: full
// collections come sooner and the heap stays near the live size, at the cost of more of them.
// Session 37 set 50 (peak RSS of a burst 350 -> 200 MB); session 38 measured that bound at 10-15 % more CPU per turn
// under sustained load (3-4x the full collections, each marking the whole live heap) and gave it up: what the memory
// targets ask for (RSS 2 s after a burst and at rest) the idle collector now gives back about a second after the
// burst (idle-gc.ts), so the default is V8's own factor (0), set explicitly (bench/README.md, "GC and the heap bound
// (session 38)"). The flag is read by V8 at each full collection, so it can be set at start; a value given on node's
// command line (`node --heap-growing-percent=50 dist/src/main.js`: a lower peak for more CPU) is left as it is.
import * as v8 from "node:v8";

/** The heap may grow by this share of what was live after the last full collection before the next one; 0: V8's own factor. */
export const HEAP_GROWING_PERCENT = 0;

/** Sets V8's heap growing factor unless `execArgv` (node's command line) sets it. Returns the percent set, if any. */
export function boundHeapGrowth(execArgv: readonly string[], percent = HEAP_GROWING_PERCENT): number | undefined {
  if (execArgv.some((arg) => /^--heap[-_]growing[-_]percent\b/.test(arg))) return undefined;
  v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
  return percent;
}
