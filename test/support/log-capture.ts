// Captures the bot's JSON log lines (in-process destination or a child's stdout) for assertions, and checks
// that no secret ever reached a line.
import { Writable } from "node:stream";
import { waitFor } from "./wait";

export interface LogLine {
  level: number;
  msg?: string;
  module?: string;
  [key: string]: unknown;
}

export class LogCapture extends Writable {
  readonly raw: string[] = [];
  private partial = "";

  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: (error?: Error | null) => void): void {
    this.append(String(chunk));
    done();
  }

  append(text: string): void {
    const all = this.partial + text;
    const lines = all.split("\n");
    this.partial = lines.pop() ?? "";
    for (const line of lines) if (line.trim() !== "") this.raw.push(line);
  }

  lines(): LogLine[] {
    const out: LogLine[] = [];
    for (const line of this.raw) {
      try {
        out.push(JSON.parse(line) as LogLine);
      } catch {
        out.push({ level: 0, msg: line });
      }
    }
    return out;
  }

  find(predicate: (line: LogLine) => boolean): LogLine | undefined {
    return this.lines().find(predicate);
  }

  /** Waits for a line matching `predicate` (deadline: DEFAULT_WAIT_MS or `timeoutMs`, scaled by TEST_TIME_SCALE). */
  async waitFor(predicate: (line: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine> {
    return waitFor(() => this.find(predicate), { what: `log: ${what}`, ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      describe: () => `\n--- last lines ---\n${this.raw.slice(-15).join("\n")}` });
  }
}

/** Throws when any secret (or its URL-encoded form) appears in any captured line. */
export function assertNoSecrets(raw: readonly string[], secrets: readonly string[]): void {
  const forms = secrets.filter((s) => s.length > 0).flatMap((s) => [s, encodeURIComponent(s)]);
  for (const line of raw) {
    for (const secret of forms) {
      if (line.includes(secret)) {
        throw new Error(`a secret reached the logs (…${secret.slice(-4)}):\n${line.slice(0, 500)}`);
      }
    }
  }
}
