// A newcomer runs `npm start` before configuring anything: one clear message, exit code 2, no stack trace. It runs
// in a throw-away deployment with a fixed environment: never in the project root, whose .env and data/ are the
// user's (a filled-in .env there once made this test start the real bot against the user's homeserver).
import { writeFileSync } from "node:fs";
import path from "node:path";
import { removeDir } from "../support/bot-harness";
import { deploymentEnv, makeDeployment, runGroup } from "../support/deployment";

describe("npm start without configuration", () => {
  let dir = "";
  afterEach(() => removeDir(dir));

  it("says the homeserver is missing and how to fix it, exits 2, and prints no stack trace", async () => {
    dir = makeDeployment();
    const result = await runGroup("npm", ["start", "--silent"], { cwd: dir, env: deploymentEnv(dir), timeoutMs: 60_000 });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("MATRIX_HOMESERVER_URL");
    expect(result.stderr).toContain("npm run login");
    expect(result.stderr).toMatch(/fix/i);
    expect(result.stderr + result.stdout).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/);
  });

  it("with .env copied from .env.example (every value empty), says the same: an empty value is unset", async () => {
    dir = makeDeployment();
    const result = await runGroup("sh", ["-c", "cp .env.example .env && npm start --silent"],
      { cwd: dir, env: deploymentEnv(dir), timeoutMs: 60_000 });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^MATRIX_HOMESERVER_URL: is not set, and no usable .*\/data\/credentials\.json/m);
    expect(result.stderr).toMatch(/^MATRIX_ACCESS_TOKEN: is not set/m);
    expect(result.stderr.split("\n").filter((l) => /^[A-Z_]+: /.test(l))).toHaveLength(2);
  });

  it("with a broken AGENTS_FILE lists each of its problems, never a token, and exits 2", async () => {
    dir = makeDeployment();
    writeFileSync(path.join(dir, "agents.yaml"), "agents:\n  coder:\n    url: ftp://x\n    token: leaked-agent-token\n  Bad Name:\n    url: http://127.0.0.1:1/\n");
    const env = { ...deploymentEnv(dir), MATRIX_HOMESERVER_URL: "http://127.0.0.1:1", MATRIX_ACCESS_TOKEN: "t", AGENTS_FILE: "agents.yaml" };
    const result = await runGroup("npm", ["start", "--silent"], { cwd: dir, env, timeoutMs: 60_000 });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^AGENTS_FILE: .*agents\.coder\.url is not a ws:\/\/, wss:\/\/, http:\/\/ or https:\/\/ URL/m);
    expect(result.stderr).toMatch(/^AGENTS_FILE: .*agents\.Bad Name is not an agent name/m);
    expect(result.stderr + result.stdout).not.toContain("leaked-agent-token");
  });
});
