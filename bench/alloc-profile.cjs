// A sampling heap profile of the bot's throughput phase that keeps collected objects (node's --heap-prof keeps only
// what is live at exit). A preload, like bench/alloc-meter.cjs: it starts when the bot gets busy (> 250 ms CPU in a
// second) after >= 5 idle seconds (the floor's phase), samples 25 s, and writes $ALLOC_METER_DIR/phase.heapprofile
// (open it in Chrome DevTools; mind that V8 counts an inlined function's allocations to the function it is inlined in).
const fs = require("fs");
const inspector = require("inspector");
const dir = process.env.ALLOC_METER_DIR || "/tmp";
const session = new inspector.Session();
session.connect();
let lastCpu = 0;
let idle = 0;
let started = false;
const timer = setInterval(() => {
  const c = process.cpuUsage();
  const cpu = (c.user + c.system) / 1000;
  const busy = cpu - lastCpu;
  lastCpu = cpu;
  if (started) return;
  if (busy < 60) idle += 1;
  else if (busy > 250 && idle >= 5) start();
  else if (busy > 250) idle = 0;
}, 1000);
timer.unref();
function start() {
  started = true;
  session.post("HeapProfiler.enable", () => session.post("HeapProfiler.startSampling", {
    samplingInterval: 65536, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true,
  }));
  setTimeout(() => session.post("HeapProfiler.stopSampling", (err, res) => {
    if (!err) fs.writeFileSync(`${dir}/phase.heapprofile`, JSON.stringify(res.profile));
  }), 25_000).unref();
}
