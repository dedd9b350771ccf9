// Tests never read the user's .env or data/, and leave no process behind: the bot's child processes run with a
// fixed environment in an empty working folder of their own, in a process group that the test environment kills
// when a test timed out before its own cleanup.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { removeDir, ROOT, ScriptProcess } from "../../support/bot-harness";
import { isAlive } from "../../support/child-processes";
import { runGroup } from "../../support/deployment";

describe("child processes of the tests", () => {
  let dir = "";
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "mab-harness-"));
  });
  afterEach(() => removeDir(dir));

  it("run in an empty folder of their own (not the project root with its .env and data/), with only the given environment", async () => {
    const script = path.join(dir, "where.js");
    writeFileSync(script, `console.log(JSON.stringify({ msg: "here", cwd: process.cwd(), files: require("fs").readdirSync("."),
      env: Object.keys(process.env).sort() }));`);
    const child = new ScriptProcess(script, { ONLY_THIS: "1" }, { msg: "here", what: "its line" });
    await child.ready();
    const seen = child.logs.find((l) => l.msg === "here") as unknown as { cwd: string; files: string[]; env: string[] };
    await child.stop();
    expect(seen.cwd).not.toBe(ROOT);
    expect(path.relative(ROOT, seen.cwd).startsWith("..")).toBe(true);
    expect(seen.files).toEqual([]);
    expect(seen.env.filter((k) => k !== "PATH")).toEqual(["ONLY_THIS"]);
    expect(existsSync(child.cwd)).toBe(false); // removed when it exited
  });

  it("a test that times out leaves nothing running: its child's process group is killed when the file ends", async () => {
    const pidFile = path.join(dir, "pid");
    writeFileSync(path.join(dir, "leak.test.js"), `
      const { spawn } = require("node:child_process");
      const { writeFileSync } = require("node:fs");
      test("never ends", async () => {
        const sh = spawn("sh", ["-c", "sleep 300 & echo $! > ${pidFile}; wait"], { detached: true, stdio: "ignore" });
        globalThis.__mabChildGroups.add(sh.pid); // what spawnGroup does
        await new Promise(() => undefined);
      });
    `);
    writeFileSync(path.join(dir, "jest.config.js"), `module.exports = ${JSON.stringify({
      rootDir: dir, testEnvironment: path.join(ROOT, "test", "support", "jest-environment.js"), testTimeout: 1000 })};`);
    const run = await runGroup(process.execPath, [path.join(ROOT, "node_modules", "jest", "bin", "jest.js"), "--config",
      path.join(dir, "jest.config.js"), "--runInBand"], { cwd: dir, env: { PATH: process.env["PATH"] ?? "" }, timeoutMs: 60_000 });
    expect(run.stderr).toMatch(/Exceeded timeout of 1000 ms/);
    const grandchild = Number(readFileSync(pidFile, "utf8"));
    expect(grandchild).toBeGreaterThan(0);
    expect(isAlive(grandchild)).toBe(false);
  }, 90_000);
});
