// Builds dist/ with tsc when it is missing or older than any source file, so `npm start` (and `npm run …`) work on
// a fresh clone. Says so on stderr first (a first build takes several seconds); tsc's own output goes to stderr
// too, so stdout stays the bot's JSON log lines. Run directly, or imported by scripts/start.mjs.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

const newest = (dir) => {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
};

/** Whether dist/ must be (re)built: dist/src/main.js is missing or older than a file of src/. */
export function needsBuild(root = ROOT) {
  const marker = path.join(root, "dist", "src", "main.js");
  return !existsSync(marker) || statSync(marker).mtimeMs < newest(path.join(root, "src"));
}

/** Builds when needed; `say` gets the lines meant for the operator (default: stderr). Throws when tsc fails. */
export function buildIfNeeded({ root = ROOT, say = (line) => process.stderr.write(`${line}\n`) } = {}) {
  if (!needsBuild(root)) return false;
  const first = !existsSync(path.join(root, "dist", "src", "main.js"));
  say(`matrix-agent-bot: building dist/ (${first ? "first start" : "src/ changed"}; this takes a few seconds)…`);
  const startedAt = Date.now();
  execFileSync(process.execPath, [path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"], {
    cwd: root,
    stdio: ["ignore", 2, 2],
  });
  say(`matrix-agent-bot: built in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  return true;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    buildIfNeeded();
  } catch {
    process.stderr.write("matrix-agent-bot: the build failed (tsc's messages are above)\n");
    process.exit(1);
  }
}
