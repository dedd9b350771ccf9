// The bot under test: the built bot (dist/src/main.js) as a child process against Synapse, in either mode, restartable
// on the same data (SIGKILL included), and asked through its /metrics whether it is idle.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { assertNoSecrets } from "../../support/log-capture";
import { ChildBot, makeDataDir, removeDir } from "../../support/bot-harness";
import type { SynapseRun } from "./run";

export type Mode = "client" | "appservice";

/**
 * Production defaults, except: retries and agent reconnects quick (tests wait on them), no placeholder (an answer
 * that is slow under load must not turn into an edit), and request and pong timeouts that a busy machine meets.
 */
export const SYNAPSE_TIMINGS: Record<string, string> = {
  MATRIX_SYNC_TIMEOUT_MS: "10000",
  MATRIX_REQUEST_TIMEOUT_MS: "30000",
  MATRIX_RETRY_BASE_MS: "100",
  MATRIX_RETRY_MAX_MS: "2000",
  AGENT_HEARTBEAT_MS: "5000",
  AGENT_PONG_TIMEOUT_MS: "5000",
  AGENT_RECONNECT_BASE_MS: "50",
  AGENT_RECONNECT_MAX_MS: "1000",
  AGENT_RECONNECT_RESET_MS: "2000",
  PLACEHOLDER_DELAY_MS: "120000",
  SHUTDOWN_GRACE_MS: "3000",
};

export const BOT_DISPLAY_NAME = "Agent Bot";

/** The bot's environment in `mode` on this run's Synapse (client mode signs in as `account`). */
export function botEnvFor(run: SynapseRun, mode: Mode, dataDir: string, agent: { url: string; token: string },
  account?: { accessToken: string }): Record<string, string> {
  const common = {
    MATRIX_HOMESERVER_URL: run.url, DATA_DIR: dataDir, HTTP_BIND: "127.0.0.1:0", LOG_LEVEL: "debug", ALLOWED_USERS: "@*:localhost",
    BOT_DISPLAY_NAME: BOT_DISPLAY_NAME, AGENT_URL: agent.url, AGENT_TOKEN: agent.token, ...SYNAPSE_TIMINGS,
  };
  if (mode === "appservice") {
    return { ...common, MATRIX_REGISTRATION: run.registrationPath, APPSERVICE_BIND: `127.0.0.1:${run.asPort}` };
  }
  if (!account) throw new Error("client mode needs an account");
  return { ...common, MATRIX_MODE: "client", MATRIX_ACCESS_TOKEN: account.accessToken };
}

const HTTP_LINE = "HTTP server listening (/healthz /readyz /metrics)";

export class BotUnderTest {
  readonly dataDir = makeDataDir();
  private current: ChildBot | undefined;
  private readonly all: ChildBot[] = [];
  private httpPort = 0;

  /**
   * `secrets`: tokens the bot reads from files (the registration's), checked in its output like the env's.
   * `logs`: each process's output is written there as `<label>-<n>.log` when it stops (kept with SYNAPSE_KEEP_STATE=1).
   */
  constructor(private readonly envFor: (dataDir: string) => Record<string, string>,
    private readonly opts: { secrets?: string[]; logs?: { dir: string; label: string } } = {}) {}

  get child(): ChildBot {
    if (!this.current) throw new Error("the bot is not started");
    return this.current;
  }

  /** Starts a process on the same data; `extra` variables for this start only (e.g. MAB_TEST_CRASH_AT). */
  async start(extra: Record<string, string> = {}): Promise<this> {
    const child = new ChildBot({ ...this.envFor(this.dataDir), ...extra });
    this.current = child;
    this.all.push(child);
    await child.ready(60_000);
    const line = await child.logs.waitFor((l) => l.msg === HTTP_LINE, "the HTTP server's port");
    this.httpPort = Number(line["port"]);
    return this;
  }

  /** SIGKILL, as a crash or an OOM kill would; resolves once the process is gone. */
  async kill(): Promise<void> {
    this.child.kill("SIGKILL");
    await this.child.exited;
  }

  /** Resolves when the process exits on its own (e.g. MAB_TEST_CRASH_AT); the exit. */
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.child.exited;
  }

  async metrics(): Promise<string> {
    const res = await fetch(`http://127.0.0.1:${this.httpPort}/metrics`);
    return res.text();
  }

  /**
   * Waits until the bot reports idle (`matrix_agent_bot_idle 1`: no routed event, run or outbox send in flight) on
   * two reads in a row. The check for "exactly once" comes after this, never after a bare sleep.
   */
  async waitForIdle(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let streak = 0;
    let last = "";
    for (;;) {
      const text = await this.metrics();
      const gauge = /^matrix_agent_bot_idle(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1];
      if (gauge === undefined) {
        throw new Error("the bot's /metrics has no matrix_agent_bot_idle gauge (issue 15 adds it); this tier cannot tell when the bot is idle");
      }
      streak = gauge === "1" ? streak + 1 : 0;
      if (streak >= 2) return;
      last = text.split("\n").filter((l) => l.startsWith("matrix_agent_bot_work_in_flight") || l.startsWith("matrix_agent_bot_idle")).join("; ");
      if (Date.now() > deadline) throw new Error(`the bot did not become idle within ${timeoutMs} ms: ${last}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops every process it started (SIGTERM unless already gone), checks their output, removes the data. */
  async stop(): Promise<void> {
    try {
      for (const [n, child] of this.all.splice(0).entries()) {
        await child.stop();
        const output = [...child.logs.raw, ...child.stderr];
        if (this.opts.logs) {
          mkdirSync(this.opts.logs.dir, { recursive: true });
          writeFileSync(path.join(this.opts.logs.dir, `${this.opts.logs.label}-${n + 1}.log`), `${output.join("\n")}\n`);
        }
        assertNoSecrets(output, this.opts.secrets ?? []);
      }
    } finally {
      removeDir(this.dataDir);
    }
  }
}
