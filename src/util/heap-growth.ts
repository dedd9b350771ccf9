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
// load 20, so the bound stays (bench/README.md, "GC and the heap bound (session 38)"). The flag is read by V8 at each
// full collection, so it can be set at start; a value given on node's command line (`node --heap-growing-percent=0
// dist/src/main.js`: V8's own factor, less CPU, a higher peak) is left as it is.
import * as v8 from "node:v8";

/** The heap may grow by this share of what was live after the last full collection before the next one. */
export const HEAP_GROWING_PERCENT = 50;

/** Sets V8's heap growing factor unless `execArgv` (node's command line) sets it. Returns the percent set, if any. */
export function boundHeapGrowth(execArgv: readonly string[], percent = HEAP_GROWING_PERCENT): number | undefined {
  if (execArgv.some((arg) => /^--heap[-_]growing[-_]percent\b/.test(arg))) return undefined;
  v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
  return percent;
}
