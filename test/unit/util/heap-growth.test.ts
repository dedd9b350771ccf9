// The heap growth bound is set at start unless node's command line sets it (its effect on memory and CPU is measured
// by the bench, BENCH_ONLY=throughput and BENCH_ONLY=rooms: bench/README.md "GC and the heap bound (session 38)").
import { execFileSync } from "node:child_process";
import { boundHeapGrowth, HEAP_GROWING_PERCENT } from "../../../src/util/heap-growth";

describe("boundHeapGrowth", () => {
  it("sets the bound when node's command line does not", () => {
    expect(boundHeapGrowth([], HEAP_GROWING_PERCENT)).toBe(HEAP_GROWING_PERCENT);
    expect(boundHeapGrowth(["--enable-source-maps"], 80)).toBe(80);
  });

  it("leaves a value given on node's command line as it is", () => {
    expect(boundHeapGrowth(["--heap-growing-percent=0"])).toBeUndefined();
    expect(boundHeapGrowth(["--heap_growing_percent=25"])).toBeUndefined();
  });

  it("keeps the old space near what is live while objects that outlive young collections die (a burst)", () => {
    // V8 reads the flag when set at run time, as boundHeapGrowth does. The same allocation pattern in two fresh
    // processes, with and without the bound: ~30 MB live, and batches of
    // objects that each live through a few hundred later batches (turns held while a burst is worked).
    const script = `
      const v8 = require("node:v8");
      if (process.argv[1] === "bounded") v8.setFlagsFromString("--heap-growing-percent=${HEAP_GROWING_PERCENT}"); // as boundHeapGrowth does
      const live = []; for (let i = 0; i < 300000; i++) live.push({ a: i, b: "x" + i });
      const inflight = []; let peak = 0;
      for (let round = 0; round < 3000; round++) {
        inflight.push(Array.from({ length: 200 }, (_, i) => ({ i, s: "y".repeat(50) + i })));
        if (inflight.length > 200) inflight.shift();
        if (round % 25 === 0) peak = Math.max(peak, v8.getHeapStatistics().used_heap_size);
      }
      process.stdout.write(String(Math.round(peak / 1048576)));`;
    const peakMb = (mode: string): number => Number(execFileSync(process.execPath, ["-e", script, mode], { encoding: "utf8" }));
    const unbounded = peakMb("default");
    const bounded = peakMb("bounded");
    expect(bounded).toBeLessThan(unbounded * 0.8);
  });
});
