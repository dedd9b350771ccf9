// Bytes allocated on the bot's V8 heap, for "bytes allocated per turn" (bench/README.md, session 39). A preload:
//   BENCH_BOT_NODE_ARGS="-r $PWD/bench/alloc-meter.cjs" BENCH_BOT_ENV='{"ALLOC_METER_DIR":"/tmp/x"}' BENCH_ONLY=throughput ...
// Every second it appends `<ms since start> <bytes allocated since start> <CPU ms since start> <GCs in the second>` to
// $ALLOC_METER_DIR/alloc-<pid>.log. Bytes allocated = the growth of the used heap between collections (before each GC
// minus after the one before, from v8.GCProfiler) plus the growth since the last one: what the program allocated,
// whether collected or kept. Off-heap memory (Buffer contents) is not counted. Divide the bytes of the throughput
// phase's seconds (the bot's last busy stretch) by the phase's turns.
const v8 = require("v8");
const fs = require("fs");
const file = `${process.env.ALLOC_METER_DIR || "/tmp"}/alloc-${process.pid}.log`;
let total = 0;
let last = v8.getHeapStatistics().used_heap_size;
let profiler = new v8.GCProfiler();
profiler.start();
const t0 = Date.now();
setInterval(() => {
  const { statistics } = profiler.stop();
  profiler = new v8.GCProfiler();
  profiler.start();
  for (const gc of statistics) {
    total += Math.max(0, gc.beforeGC.heapStatistics.usedHeapSize - last);
    last = gc.afterGC.heapStatistics.usedHeapSize;
  }
  const now = v8.getHeapStatistics().used_heap_size;
  total += Math.max(0, now - last);
  last = now;
  const cpu = process.cpuUsage();
  fs.appendFileSync(file, `${Date.now() - t0} ${total} ${Math.round((cpu.user + cpu.system) / 1000)} ${statistics.length}\n`);
}, 1000).unref();
