// The bot's log on a piped stdout (src/log.ts stdoutDestination: asynchronous, lines kept as Buffers while a write is
// in flight). A process that logs a burst of lines, some with multi-byte text, and exits at once: every line arrives
// whole, in order, with its text intact (a Buffer's bytes are counted, not its characters), and none is lost at exit.
import { spawn } from "node:child_process";
import { join } from "node:path";

const LOG_MODULE = join(__dirname, "..", "..", "dist", "src", "log.js");

function runLogger(lines: number): Promise<{ stdout: string; code: number | null }> {
  const script = `
    const { createLogger, stdoutDestination } = require(${JSON.stringify(LOG_MODULE)});
    const log = createLogger({ level: "info", secrets: [], destination: stdoutDestination(() => undefined) });
    for (let i = 0; i < ${lines}; i += 1) log.info({ i, text: i % 3 === 0 ? "héllo wörld ✓ 😀 " + "é".repeat(i % 50) : "plain" }, "line");
    process.exit(0);
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ stdout: Buffer.concat(chunks).toString("utf8"), code }));
  });
}

describe("the log on a piped stdout", () => {
  it("writes every line of a burst whole and in order, multi-byte text intact, and flushes them at exit", async () => {
    const { stdout, code } = await runLogger(20_000);
    expect(code).toBe(0);
    const lines = stdout.split("\n").filter((l) => l !== "");
    expect(lines).toHaveLength(20_000);
    lines.forEach((raw, i) => {
      const line = JSON.parse(raw) as { i: number; text: string; msg: string };
      expect(line.i).toBe(i);
      expect(line.msg).toBe("line");
      expect(line.text).toBe(i % 3 === 0 ? "héllo wörld ✓ 😀 " + "é".repeat(i % 50) : "plain");
    });
  });
});
