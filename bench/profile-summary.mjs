// Summarizes a V8 .cpuprofile (from `node --cpu-prof`): the functions with the most self time, self time per
// script (npm package, node module, source file), and the most inclusive time per function (callees included).
//   node bench/profile-summary.mjs <file.cpuprofile> [rows=30] [filter-substring]
import { readFileSync } from "node:fs";

const [file, rowsArg, filter] = process.argv.slice(2);
if (!file) {
  process.stderr.write("usage: node bench/profile-summary.mjs <file.cpuprofile> [rows] [filter]\n");
  process.exit(2);
}
const rows = Number(rowsArg ?? 30);
const profile = JSON.parse(readFileSync(file, "utf8"));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const self = new Map(); // node id -> µs
const deltas = profile.timeDeltas;
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  self.set(id, (self.get(id) ?? 0) + (deltas[i] ?? 0));
}
const total = [...self.values()].reduce((a, b) => a + b, 0);

const label = (n) => {
  const f = n.callFrame;
  const where = f.url ? `${f.url.replace(/^.*\/(node_modules|dist|src)\//, "$1/")}:${f.lineNumber + 1}` : "";
  return `${f.functionName || "(anonymous)"} ${where}`.trim();
};

const selfBy = new Map();
const inclBy = new Map();
const fileBy = new Map(); // self time per script (package or source file)
const fileOf = (n) => {
  const url = n.callFrame.url;
  if (!url) return n.callFrame.functionName || "(native)";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `npm:${pkg[1]}`;
  if (url.startsWith("node:")) return url.replace(/^node:(internal\/)?([^/]+).*/, "node:$2");
  return url.replace(/^.*\/(dist|src)\//, "$1/");
};
for (const [id, us] of self) {
  const key = label(nodes.get(id));
  selfBy.set(key, (selfBy.get(key) ?? 0) + us);
  const file = fileOf(nodes.get(id));
  fileBy.set(file, (fileBy.get(file) ?? 0) + us);
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const k = label(nodes.get(cur));
    if (seen.has(k)) continue;
    seen.add(k);
    inclBy.set(k, (inclBy.get(k) ?? 0) + us);
  }
}

const show = (title, map) => {
  process.stdout.write(`\n${title} (total ${(total / 1000).toFixed(0)} ms)\n`);
  const list = [...map.entries()].filter(([k]) => !filter || k.includes(filter)).sort((a, b) => b[1] - a[1]).slice(0, rows);
  for (const [k, us] of list) process.stdout.write(`${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}\n`);
};
show("self time", selfBy);
show("self time per script", fileBy);
show("inclusive time", inclBy);
