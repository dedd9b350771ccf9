// Usage counting: per UTC day, per room, user and agent, durable in the store, expiring; daily limits refuse a run
// with the time they reset in words; the metered runner records what each run reports.
import pino from "pino";
import type { RunResult } from "../../../src/agent/link";
import { openStore, type Store } from "../../../src/store";
import { durationInWords, resetInWords, utcDay } from "../../../src/usage/days";
import { UsageLedger, USAGE_KEEP_DAYS } from "../../../src/usage/ledger";
import { DEFAULT_AGENT_NAME, meteredRunner } from "../../../src/usage/meter";
import type { AgentRunner } from "../../../src/turns/turn-run";
import { FAILURE_TEXTS } from "../../../src/turns/failure-text";

const log = pino({ level: "silent" });
const T0 = Date.parse("2026-03-01T21:30:00Z");
let store: Store;

beforeEach(async () => {
  store = await openStore("sqlite://:memory:", { logger: log });
});
afterEach(async () => {
  await store.close();
});

function input(roomId: string, ...senders: string[]) {
  return { messages: senders.map((sender, i) => ({ id: `$${i}`, role: "user", content: "hi", sender })), context: { roomId, isDirect: false } };
}

/** An agent that reports `usage` for every run, and counts the runs it got. */
function agentReporting(usage: RunResult["usage"]): AgentRunner & { runs: number } {
  const agent = {
    runs: 0,
    async run(): Promise<RunResult> {
      agent.runs += 1;
      return usage ? { ok: true, usage } : { ok: true };
    },
  };
  return agent;
}

describe("the usage ledger", () => {
  it("sums per room, user and agent per UTC day", async () => {
    const ledger = new UsageLedger(store, log);
    const day = utcDay(T0);
    const one = { runs: 1, inputTokens: 10, outputTokens: 5, totalTokens: 15 };
    await ledger.record(day, { roomId: "!a:x", userId: "@alice:x", agent: "default" }, one);
    await ledger.record(day, { roomId: "!a:x", userId: "@bob:x", agent: "default" }, one);
    await ledger.record(day, { roomId: "!b:x", userId: "@alice:x", agent: "coder" }, one);
    await ledger.record(utcDay(T0 + 86_400_000), { roomId: "!a:x", userId: "@alice:x", agent: "default" }, one);
    expect((await ledger.usage(day, { room: "!a:x" })).total).toEqual({ runs: 2, inputTokens: 20, outputTokens: 10, totalTokens: 30 });
    expect((await ledger.usage(day, { user: "@alice:x" })).agents).toEqual({ default: one, coder: one });
    expect((await ledger.usage(day, "all")).total.totalTokens).toBe(45);
    expect((await ledger.usage("2026-02-28", "all")).total.runs).toBe(0);
    expect(await ledger.index(day)).toEqual({ rooms: ["!a:x", "!b:x"], users: ["@alice:x", "@bob:x"], cut: false });
  });

  it("concurrent records of one room all count", async () => {
    const ledger = new UsageLedger(store, log);
    const one = { runs: 1, inputTokens: 1, outputTokens: 1, totalTokens: 2 };
    await Promise.all(Array.from({ length: 20 }, (_, i) => ledger.record("2026-03-01", { roomId: "!a:x", userId: `@u${i}:x`, agent: "default" }, one)));
    expect((await ledger.usage("2026-03-01", { room: "!a:x" })).total.runs).toBe(20);
  });

  it("old days expire: every record is written with a ttl", async () => {
    let now = T0;
    const clocked = await openStore("sqlite://:memory:", { logger: log, clock: () => now });
    try {
      const ledger = new UsageLedger(clocked, log);
      await ledger.record("2026-03-01", { roomId: "!a:x", userId: "@alice:x", agent: "default" }, { runs: 1, inputTokens: 1, outputTokens: 0, totalTokens: 1 });
      expect((await clocked.countRows())?.live).toBe(4); // room, user, all, index
      now += (USAGE_KEEP_DAYS + 1) * 86_400_000;
      expect((await clocked.countRows())?.live).toBe(0);
      expect(await clocked.deleteExpired(100)).toBe(4);
    } finally {
      await clocked.close();
    }
  });

  it("survives a reopened store file", async () => {
    const { mkdtempSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(`${tmpdir()}/usage-`);
    const path = `sqlite://${dir}/bot.sqlite`;
    const first = await openStore(path, { logger: log });
    await new UsageLedger(first, log).record("2026-03-01", { roomId: "!a:x", userId: "@alice:x", agent: "default" }, { runs: 1, inputTokens: 3, outputTokens: 4, totalTokens: 7 });
    await first.close();
    const second = await openStore(path, { logger: log });
    expect((await new UsageLedger(second, log).usage("2026-03-01", { user: "@alice:x" })).total.totalTokens).toBe(7);
    await second.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("the metered agent", () => {
  it("records each run's usage for its room, the sender of its last message and the agent", async () => {
    const ledger = new UsageLedger(store, log);
    const seen: Array<[string, number]> = [];
    const agent = meteredRunner(agentReporting([{ inputTokens: 100, outputTokens: 20 }, { totalTokens: 5 }]), {
      ledger, limits: {}, agentName: DEFAULT_AGENT_NAME, now: () => T0, log, onUsage: (a, t) => seen.push([a, t.totalTokens]) });
    expect(await agent.run({ threadId: "t", runId: "r1", input: input("!a:x", "@bob:x", "@alice:x") }, { onTextMessage: () => undefined }))
      .toMatchObject({ ok: true });
    const day = utcDay(T0);
    expect((await ledger.usage(day, { user: "@alice:x" })).agents).toEqual({ default: { runs: 1, inputTokens: 100, outputTokens: 20, totalTokens: 125 } });
    expect((await ledger.usage(day, { user: "@bob:x" })).total.runs).toBe(0);
    expect((await ledger.usage(day, { room: "!a:x" })).total.totalTokens).toBe(125);
    expect(seen).toEqual([["default", 125]]);
  });

  it("refuses a run once the user's or the room's daily limit is reached, saying when it resets; the next UTC day runs again", async () => {
    const ledger = new UsageLedger(store, log);
    let now = T0;
    const inner = agentReporting([{ inputTokens: 60, outputTokens: 0 }]);
    const agent = meteredRunner(inner, { ledger, limits: { perUserDay: 100, perRoomDay: 150 }, agentName: "default", now: () => now, log });
    const run = (roomId: string, sender: string) => agent.run({ threadId: "t", runId: "r", input: input(roomId, sender) }, { onTextMessage: () => undefined });
    expect((await run("!a:x", "@alice:x")).ok).toBe(true); // 60
    expect((await run("!a:x", "@alice:x")).ok).toBe(true); // 120: a run under the limit may end above it
    const refused = await run("!a:x", "@alice:x");
    expect(refused).toEqual({ ok: false, failure: { kind: "usage_limit", detail: "user limit reached",
      text: `${FAILURE_TEXTS.usage_limit} You have used 120 of 100 tokens today; the limit resets at midnight UTC, in 2 hours and 30 minutes.` } });
    expect((await run("!a:x", "@bob:x")).ok).toBe(true); // the room: 180
    const roomRefused = await run("!a:x", "@carol:x");
    expect(!roomRefused.ok && roomRefused.failure.kind === "usage_limit" && roomRefused.failure.text).toContain("This room has used 180 of 150 tokens today");
    expect((await run("!b:x", "@carol:x")).ok).toBe(true); // another room
    expect(inner.runs).toBe(4);
    now = Date.parse("2026-03-02T00:00:00Z");
    expect((await run("!a:x", "@alice:x")).ok).toBe(true);
    expect(inner.runs).toBe(5);
  });
});

test("words for the reset", () => {
  expect(durationInWords(59_000)).toBe("less than a minute");
  expect(durationInWords(60_000)).toBe("1 minute");
  expect(durationInWords(3 * 3_600_000)).toBe("3 hours");
  expect(durationInWords(3_600_000 + 120_000)).toBe("1 hour and 2 minutes");
  expect(resetInWords(Date.parse("2026-03-01T23:15:00Z"))).toBe("at midnight UTC, in 45 minutes");
});

test("/metrics: tokens per agent and direction, no room or user label", async () => {
  const { Metrics } = await import("../../../src/metrics");
  const metrics = new Metrics({ processMetrics: false });
  metrics.agentUsage("default", { inputTokens: 100, outputTokens: 20 });
  metrics.agentUsage("default", { inputTokens: 1, outputTokens: 0 });
  const lines = (await metrics.text()).split("\n").filter((l) => l.startsWith("matrix_agent_bot_agent_tokens_total"));
  expect(lines).toEqual([
    'matrix_agent_bot_agent_tokens_total{agent="default",direction="input"} 101',
    'matrix_agent_bot_agent_tokens_total{agent="default",direction="output"} 20',
  ]);
});
