// A newcomer runs `npm start` before configuring anything: one clear message, exit code 2, no stack trace.
import { spawnSync } from "node:child_process";
import { ROOT } from "../support/bot-harness";
import { scaled } from "../support/wait";

describe("npm start without configuration", () => {
  it("says the homeserver is missing and how to fix it, exits 2, and prints no stack trace", () => {
    const env: Record<string, string> = { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "/root" };
    const result = spawnSync("npm", ["start", "--silent"], { cwd: ROOT, env, encoding: "utf8", timeout: scaled(120_000) });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("MATRIX_HOMESERVER_URL");
    expect(result.stderr).toMatch(/fix/i);
    expect(result.stderr + result.stdout).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/);
  });
});
