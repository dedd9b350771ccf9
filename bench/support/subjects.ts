// The things measured, all on loopback against one homeserver double: the bot (the built dist/src/main.js as a
// child process, appservice mode, production timings, an external agent) and the floor relay
// (../shared/bench/floor-relay.mjs, run as is). Both reach the same instant agent.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import pino from "pino";
import { parse } from "yaml";
import { round } from "./figures";
import {
  appserviceEnv, ChildBot, FAST_TIMINGS, freePort, makeDataDir, removeDir, ROOT, writeRegistration,
} from "../../test/support/bot-harness";
import type { Homeserver } from "../../test/support/homeserver";
import { say } from "../../test/support/brains";
import { startReferenceAgent, type ReferenceAgent } from "../../src/reference-agent/server";
import type { AgentBrain } from "../../src/reference-agent/brain";

export const FLOOR_RELAY = process.env["FLOOR_RELAY"] ?? path.resolve(ROOT, "..", "shared", "bench", "floor-relay.mjs");

/** An agent that answers every run at once with one short message. */
export const instantBrain: AgentBrain = {
  async run(_input, out) {
    say(out, "ok");
  },
};

export function startInstantAgent(): Promise<ReferenceAgent> {
  return startReferenceAgent({ host: "127.0.0.1", port: 0, logger: pino({ level: "silent" }), mode: { kind: "custom", brain: instantBrain } });
}

/** `count` rooms with Alice and `member` joined, created through the control API (no HTTP). */
export function createRooms(hs: Homeserver, aliceId: string, member: string, count: number): string[] {
  const rooms: string[] = [];
  for (let i = 0; i < count; i++) {
    const roomId = hs.createRoom(aliceId, { invite: [member] });
    hs.join(member, roomId);
    rooms.push(roomId);
  }
  return rooms;
}

/** Waits until `probe()` is true, polling every `intervalMs`. */
export async function until(probe: () => boolean, what: string, timeoutMs = 60_000, intervalMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * The bot's account and data directory, prepared before the bot is registered with the double: rooms created
 * for `userId` meanwhile are never pushed to it (they were joined "before" this run).
 */
export class BotInstall {
  readonly dataDir = makeDataDir();
  /** The registration id writeRegistration uses. */
  readonly appserviceId = "matrix-agent-bot";
  readonly userId: string;
  private registration: ReturnType<typeof writeRegistration> | undefined;
  private port = 0;
  private registered = false;

  private constructor(private readonly hs: Homeserver, readonly localpart: string) {
    this.userId = hs.addUser(localpart).userId;
  }

  static async create(hs: Homeserver, localpart = "agentbot"): Promise<BotInstall> {
    const install = new BotInstall(hs, localpart);
    install.port = await freePort();
    install.registration = writeRegistration(install.dataDir, { port: install.port, localpart });
    return install;
  }

  /** Registers the appservice with the double (from now on, events in its rooms are pushed to it). */
  register(): void {
    if (this.registered || !this.registration) return;
    this.hs.addAppservice(parse(readFileSync(this.registration.path, "utf8")));
    this.registered = true;
  }

  /**
   * Production timings (FAST_TIMINGS removed), info logs, the given agent. The run limits are lifted: one person
   * drives every room here, and the figures measure what the bot can carry, as the floor does (no limits).
   */
  env(agentUrl: string, extra: Record<string, string> = {}): Record<string, string> {
    if (!this.registration) throw new Error("not created");
    const env = appserviceEnv({ homeserverUrl: this.hs.url, registrationPath: this.registration.path, port: this.port, dataDir: this.dataDir,
      extra: { LOG_LEVEL: "info", AGENT_URL: agentUrl, AGENT_MAX_CONCURRENT_RUNS: "100000", AGENT_MAX_RUNS_PER_USER: "100000", ...extra } });
    for (const name of Object.keys(FAST_TIMINGS)) if (!(name in extra)) delete env[name];
    return env;
  }

  /** Starts the bot; resolves once it logged "ready", with the time that took from spawn (ms). */
  async start(agentUrl: string, extra: Record<string, string> = {}, nodeArgs: string[] = []): Promise<{ bot: ChildBot; readyMs: number }> {
    this.register();
    const startedAt = performance.now();
    const bot = new ChildBot(this.env(agentUrl, extra), [], { nodeArgs });
    await bot.ready(60_000);
    return { bot, readyMs: performance.now() - startedAt };
  }

  remove(): void {
    removeDir(this.dataDir);
  }
}

/** The floor relay as a child process, registered with the double as its own appservice. */
export class FloorRelay {
  static readonly APPSERVICE_ID = "floor-relay";
  readonly userId: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private readonly hsToken = `hs_${randomBytes(16).toString("hex")}`;
  private readonly asToken = `as_${randomBytes(16).toString("hex")}`;
  private port = 0;

  constructor(private readonly hs: Homeserver, readonly localpart = "floorbot") {
    this.userId = hs.addUser(localpart).userId;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(agent: { url: string; connections(): number }): Promise<void> {
    if (!existsSync(FLOOR_RELAY)) throw new Error(`the floor relay is missing: ${FLOOR_RELAY} (set FLOOR_RELAY)`);
    this.port = await freePort();
    this.hs.addAppservice({
      id: FloorRelay.APPSERVICE_ID, url: `http://127.0.0.1:${this.port}`, as_token: this.asToken, hs_token: this.hsToken,
      sender_localpart: this.localpart, rate_limited: false,
      namespaces: { users: [{ exclusive: true, regex: `@${this.localpart}:localhost` }], aliases: [], rooms: [] },
    });
    const before = agent.connections();
    const child = spawn(process.execPath, [FLOOR_RELAY], {
      cwd: ROOT,
      env: {
        PATH: process.env["PATH"] ?? "", FLOOR_HS: this.hs.url, FLOOR_BIND: `127.0.0.1:${this.port}`,
        FLOOR_AS_TOKEN: this.asToken, FLOOR_HS_TOKEN: this.hsToken, FLOOR_USER: this.userId, FLOOR_AGENT_URL: agent.url,
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.on("exit", () => resolve()));
    let out = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    await until(() => out.includes("floor relay listening"), "the floor relay's listening line", 15_000);
    await until(() => agent.connections() > before, "the floor relay's agent connection", 15_000);
  }

  async stop(): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGTERM");
    await this.exited;
  }
}

/** The bot's /metrics text, or undefined when it cannot be read. */
async function botMetricsText(bot: ChildBot): Promise<string | undefined> {
  const port = bot.httpPort;
  if (port === undefined) return undefined;
  try {
    return await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  } catch {
    return undefined;
  }
}

/** One unlabelled metric's value from the exposition text. */
function metricValue(text: string, name: string): number | undefined {
  const m = new RegExp(`^\\w*${name} (\\d+(?:\\.\\d+)?(?:e\\+\\d+)?)$`, "m").exec(text);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** The bot's V8 heap (from its /metrics: prom-client's default metrics), in MB; empty when unavailable. */
export async function botHeap(bot: ChildBot): Promise<Record<string, number>> {
  const text = await botMetricsText(bot);
  if (text === undefined) return {};
  const out: Record<string, number> = {};
  const used = metricValue(text, "nodejs_heap_size_used_bytes");
  const total = metricValue(text, "nodejs_heap_size_total_bytes");
  if (used !== undefined) out["heapUsedMb"] = Math.round(used / 1024 / 1024);
  if (total !== undefined) out["heapTotalMb"] = Math.round(total / 1024 / 1024);
  return out;
}

/**
 * The bot's store writes, commits and reads so far (store_writes_total, store_commits_total, store_reads_total), if
 * its /metrics has them (reads: NaN from a bot without that counter).
 */
export async function botStoreWrites(bot: ChildBot): Promise<{ writes: number; commits: number; reads: number } | undefined> {
  const text = await botMetricsText(bot);
  if (text === undefined) return undefined;
  const writes = metricValue(text, "store_writes_total");
  const commits = metricValue(text, "store_commits_total");
  const reads = metricValue(text, "store_reads_total") ?? Number.NaN;
  return writes === undefined || commits === undefined ? undefined : { writes, commits, reads };
}

/**
 * The bot's garbage collection so far by kind (prom-client's nodejs_gc_duration_seconds{kind}: minor = scavenges, major =
 * mark-compact, incremental = marking steps, weakcb = weak callbacks): `<kind>` = main-thread ms, `<kind>Count` = how many.
 */
export async function botGcMs(bot: ChildBot): Promise<Record<string, number>> {
  const text = await botMetricsText(bot);
  const out: Record<string, number> = {};
  if (text === undefined) return out;
  for (const m of text.matchAll(/^\w*nodejs_gc_duration_seconds_(sum|count)\{kind="(\w+)"\} (\S+)$/gm)) {
    if (m[2] !== undefined) out[m[1] === "sum" ? m[2] : `${m[2]}Count`] = m[1] === "sum" ? Number(m[3]) * 1000 : Number(m[3]);
  }
  return out;
}

/**
 * GC over a phase from two botGcMs readings: main-thread ms and collections by kind (minor: scavenges; major:
 * mark-compact and its incremental marking steps), and ms per unit in all and per kind.
 */
export function gcFigures(after: Record<string, number>, before: Record<string, number>, units: number): Record<string, number> {
  const delta = (key: string): number => (after[key] ?? 0) - (before[key] ?? 0);
  const all = Object.keys(after).filter((key) => !key.endsWith("Count")).reduce((sum, kind) => sum + delta(kind), 0);
  const minor = delta("minor");
  const major = delta("major") + delta("incremental");
  return { gcMinorMs: round(minor, 0), gcMajorMs: round(major, 0), gcMinorCount: delta("minorCount"), gcMajorCount: delta("majorCount"),
    ...(units > 0 ? { gcMsPer: round(all / units, 3), gcMinorMsPer: round(minor / units, 3), gcMajorMsPer: round(major / units, 3) } : {}) };
}

/** The first and the largest committed size of V8's young ("new") and old spaces seen, in MB, sampling the bot's /metrics. */
export class HeapSpaceSampler {
  readonly peakMb: Record<string, number> = {};
  private readonly timer: NodeJS.Timeout;
  private busy = false;

  constructor(private readonly bot: ChildBot, intervalMs = 500) {
    this.timer = setInterval(() => void this.sample(), intervalMs);
    this.timer.unref();
    void this.sample();
  }

  private async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const text = await botMetricsText(this.bot);
      for (const m of (text ?? "").matchAll(/^\w*nodejs_heap_space_size_total_bytes\{space="(new|old)"\} (\S+)$/gm)) {
        const name = `${m[1] ?? ""}SpacePeakMb`;
        const mb = Math.round(Number(m[2]) / 1024 / 1024);
        this.peakMb[`${m[1] ?? ""}SpaceFirstMb`] ??= mb;
        this.peakMb[name] = Math.max(this.peakMb[name] ?? 0, mb);
      }
    } finally {
      this.busy = false;
    }
  }

  async stop(): Promise<Record<string, number>> {
    clearInterval(this.timer);
    await this.sample();
    return this.peakMb;
  }
}
