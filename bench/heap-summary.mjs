// Summarizes a V8 .heapsnapshot (the bench writes them with BENCH_HEAP_SNAPSHOTS=<dir>; V8 collects garbage before
// it writes one, so its total is the live heap): self size and count per constructor (objects) or kind (strings,
// arrays, closures by function name, code...), largest first. Counts near a room count (10,000) point at state
// kept per room.
//   node bench/heap-summary.mjs <file.heapsnapshot> [rows=30] [filter-substring]
import { readFileSync } from "node:fs";

const [file, rowsArg, filter] = process.argv.slice(2);
if (!file) {
  process.stderr.write("usage: node bench/heap-summary.mjs <file.heapsnapshot> [rows] [filter]\n");
  process.exit(2);
}
const rows = Number(rowsArg ?? 30);
const { snapshot, nodes, strings } = JSON.parse(readFileSync(file, "utf8"));
const fields = snapshot.meta.node_fields;
const types = snapshot.meta.node_types[0];
const width = fields.length;
const [typeAt, nameAt, sizeAt] = ["type", "name", "self_size"].map((f) => fields.indexOf(f));

const groups = new Map(); // label -> { count, bytes }
let total = 0;
for (let i = 0; i < nodes.length; i += width) {
  const type = types[nodes[i + typeAt]];
  const name = strings[nodes[i + nameAt]];
  const bytes = nodes[i + sizeAt];
  total += bytes;
  const label = type === "object" || type === "closure" || type === "native" ? `${type} ${name}` : `(${type})`;
  if (filter && !label.includes(filter)) continue;
  const g = groups.get(label) ?? { count: 0, bytes: 0 };
  g.count += 1;
  g.bytes += bytes;
  groups.set(label, g);
}

const mb = (b) => (b / 1024 / 1024).toFixed(2).padStart(8);
process.stdout.write(`live heap ${mb(total).trim()} MB in ${nodes.length / width} objects\n\n     MB     count  what\n`);
for (const [label, g] of [...groups].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, rows)) {
  process.stdout.write(`${mb(g.bytes)} ${String(g.count).padStart(9)}  ${label.slice(0, 100)}\n`);
}
process.stdout.write(`\nby count:\n`);
for (const [label, g] of [...groups].sort((a, b) => b[1].count - a[1].count).slice(0, rows)) {
  process.stdout.write(`${mb(g.bytes)} ${String(g.count).padStart(9)}  ${label.slice(0, 100)}\n`);
}
