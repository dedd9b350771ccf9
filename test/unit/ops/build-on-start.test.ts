// `npm start` on a fresh clone compiles first: it says so on stderr ("building…"), keeps tsc's output off stdout
// (stdout is the bot's JSON log), then runs the bot in the same process; the next start builds nothing. Here in a
// throw-away checkout whose "tsc" is a stand-in writing a tiny dist/src/main.js (the real build takes ~9 s).
import { copyFileSync, mkdirSync, mkdtempSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { removeDir, ROOT } from "../../support/bot-harness";
import { deploymentEnv, runGroup } from "../../support/deployment";

const FAKE_TSC = `
const fs = require("node:fs");
console.log("tsc: compiling (stand-in)");
fs.mkdirSync("dist/src", { recursive: true });
fs.writeFileSync("dist/src/main.js", 'console.log(JSON.stringify({ level: 30, msg: "bot ran", pid: process.pid }));\\n');
`;

function checkout(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "mab-build-"));
  copyFileSync(path.join(ROOT, "package.json"), path.join(dir, "package.json"));
  mkdirSync(path.join(dir, "scripts"));
  for (const file of ["start.mjs", "build-if-needed.mjs"]) copyFileSync(path.join(ROOT, "scripts", file), path.join(dir, "scripts", file));
  mkdirSync(path.join(dir, "src"));
  writeFileSync(path.join(dir, "src", "main.ts"), "// the bot\n");
  mkdirSync(path.join(dir, "node_modules", "typescript", "bin"), { recursive: true });
  writeFileSync(path.join(dir, "node_modules", "typescript", "bin", "tsc"), FAKE_TSC);
  mkdirSync(path.join(dir, "home"));
  return dir;
}

describe("npm start builds when it must", () => {
  let dir = "";
  afterEach(() => removeDir(dir));

  it("says `building…` on stderr the first time, keeps stdout for the bot, and builds nothing the next time", async () => {
    dir = checkout();
    const first = await runGroup("npm", ["start", "--silent"], { cwd: dir, env: deploymentEnv(dir), timeoutMs: 60_000 });
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(/matrix-agent-bot: building dist\/ \(first start; this takes a few seconds\)…/);
    expect(first.stderr).toContain("tsc: compiling (stand-in)");
    expect(first.stderr).toMatch(/matrix-agent-bot: built in \d+\.\d s/);
    expect(first.stdout.trim().split("\n").map((l) => JSON.parse(l) as { msg: string })).toEqual([expect.objectContaining({ msg: "bot ran" })]);

    const again = await runGroup("npm", ["start", "--silent"], { cwd: dir, env: deploymentEnv(dir), timeoutMs: 60_000 });
    expect(again.stderr).toBe("");
    expect(again.stdout).toContain("bot ran");

    const later = new Date(Date.now() + 5000);
    utimesSync(path.join(dir, "src", "main.ts"), later, later); // a source newer than dist/
    const changed = await runGroup("npm", ["start", "--silent"], { cwd: dir, env: deploymentEnv(dir), timeoutMs: 60_000 });
    expect(changed.stderr).toContain("building dist/ (src/ changed");
  });
});
