// The process's garbage collection settings, applied by src/main.ts once the app started: V8's heap growth factor
// (heap-growth.ts: bounded, lifted under sustained load) and the collector that gives back what a burst left once the
// bot is idle and switches the bound (idle-gc.ts). Chosen by measurement: bench/README.md, "GC and the heap bound
// (session 38)" and "Session 39, garbage collection".
import type { Logger } from "pino";
import { HEAP_GROWING_PERCENT, heapGrowthSwitch } from "./heap-growth";
import { IdleCollector } from "./idle-gc";

export function applyGcSettings(execArgv: readonly string[], log: Logger): IdleCollector {
  const heapGrowth = heapGrowthSwitch(execArgv);
  const collector = new IdleCollector({ log, ...(heapGrowth ? { heapGrowth } : {}) }).start();
  log.debug({ heapGrowingPercent: heapGrowth ? HEAP_GROWING_PERCENT : "node's command line", ...collector.settings },
    "V8 heap growth and idle collection");
  return collector;
}
