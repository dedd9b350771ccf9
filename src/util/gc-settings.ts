// The process's garbage collection settings, applied by src/main.ts once the app started: V8's heap growth factor
// (heap-growth.ts) and the collector that gives back what a burst left once the bot is idle (idle-gc.ts). Chosen by
// measurement: bench/README.md, "GC and the heap bound (session 38)".
import type { Logger } from "pino";
import { boundHeapGrowth } from "./heap-growth";
import { IdleCollector } from "./idle-gc";

export function applyGcSettings(execArgv: readonly string[], log: Logger): IdleCollector {
  const heapGrowingPercent = boundHeapGrowth(execArgv);
  const collector = new IdleCollector({ log }).start();
  log.debug({ heapGrowingPercent: heapGrowingPercent ?? "node's command line", ...collector.settings },
    "V8 heap growth and idle collection");
  return collector;
}
