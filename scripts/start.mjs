// `npm start`: builds dist/ if needed (saying so on stderr), then runs the bot in this same process. npm's shell
// execs this file (`exec node scripts/start.mjs`), so the signals npm forwards (SIGTERM, a Ctrl-C) reach the bot
// itself and npm exits with the bot's exit code. If npm itself goes away without a word (SIGKILL), the bot's
// parent changes: the bot then stops as on SIGTERM rather than run on unseen. Supervisors run
// `node dist/src/main.js` directly (runbook/operations.md).
import path from "node:path";
import { pathToFileURL, fileURLToPath } from "node:url";
import { buildIfNeeded } from "./build-if-needed.mjs";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const PARENT_CHECK_MS = 1000;

try {
  buildIfNeeded({ root });
} catch {
  process.stderr.write("matrix-agent-bot: the build failed (tsc's messages are above)\n");
  process.exit(1);
}

const parent = process.ppid;
if (parent > 1) {
  const watch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(watch);
    process.kill(process.pid, "SIGTERM");
  }, PARENT_CHECK_MS);
  watch.unref();
}

await import(pathToFileURL(path.join(root, "dist", "src", "main.js")).href);
