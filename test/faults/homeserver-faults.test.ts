// Sustained faults on the homeserver side (client mode, external echo agent) while several rooms converse and
// proactive fan-outs run: 429 M_LIMIT_EXCEEDED on every other send for 10 s, then bursts of 502/503 and dropped
// connections (before and after the homeserver committed the event). Nothing may be lost or doubled, and no
// retry may come sooner than the homeserver's retry_after_ms.
import { createJoinedRooms, MANY_ROOMS_POLL } from "../support/fanout-world";
import type { FaultMatch, FaultReply } from "../support/homeserver";
import { Scenario } from "../support/scenario";
import { echoReplyFor } from "../../src/reference-agent/server";
import { AGENT_DEADLINES, bodiesPerRoom, currentSyncToken, duplicatesIn, errorLines, printFigure, seedKnownRooms, sleep, timing, UNBOUNDED_RUNS } from "./support";

const RUN_DEADLINE_MS = timing("RUN_DEADLINE_MS");
const RETRY_MAX_MS = timing("MATRIX_RETRY_MAX_MS");

interface World {
  s: Scenario;
  talkRooms: string[];
  fanoutRooms: string[];
  sent: Map<string, string[]>;
}

async function world(env: Record<string, string> = {}): Promise<World> {
  const s = await Scenario.start({ mode: "client", externalAgent: true, env: { ...UNBOUNDED_RUNS, ...AGENT_DEADLINES, ...env } });
  await s.stopBot();
  const talkRooms = createJoinedRooms(s, 4); // Alice and the bot: direct rooms, every message is a turn
  const fanoutRooms = createJoinedRooms(s, 40);
  await seedKnownRooms(s.dataDir, talkRooms, { syncToken: await currentSyncToken(s) });
  await seedKnownRooms(s.dataDir, fanoutRooms, { optIn: true });
  await s.startBot();
  return { s, talkRooms, fanoutRooms, sent: new Map(talkRooms.map((r) => [r, []])) };
}

/** Each room converses (a message, then wait for its answer) until `until()` says stop. */
async function converse(w: World, until: () => boolean): Promise<void> {
  await Promise.all(w.talkRooms.map(async (roomId, r) => {
    const texts = w.sent.get(roomId) ?? [];
    for (let i = 0; !until(); i++) {
      const text = `room ${r} message ${i}`;
      texts.push(text);
      await w.s.alice.sendText(roomId, text);
      await w.s.hs.waitFor(() => w.s.botMessages(roomId).length >= texts.length,
        { what: `the answer to "${text}"`, timeoutMs: RUN_DEADLINE_MS, intervalMs: 20 }).catch((e: unknown) => {
        throw new Error(`${String(e)}\n${describeMissing(w, [])}`);
      });
    }
  }));
}

/**
 * Waits until everything arrived (every answer, every fan-out body in every opted-in room), then a little longer.
 * Returns how long it took and the duplicates counted from what the double received (answers beyond those asked
 * for, fan-out copies beyond one per room).
 */
async function nothingLost(w: World, fanouts: string[], started: number): Promise<{ doneMs: number; duplicates: number }> {
  const { s } = w;
  const complete = (): boolean => w.talkRooms.every((r) => s.botMessages(r).length >= (w.sent.get(r)?.length ?? 0))
    && fanouts.every((b) => bodiesPerRoom(s, w.fanoutRooms, b).every((n) => n >= 1));
  await s.hs.waitFor(complete, { what: "every answer and every fan-out copy", timeoutMs: 2 * RUN_DEADLINE_MS, ...MANY_ROOMS_POLL })
    .catch((e: unknown) => {
      throw new Error(`${String(e)}\n${describeMissing(w, fanouts)}`);
    });
  const doneMs = Date.now() - started;
  await s.quiet(4 * RETRY_MAX_MS); // room for a late duplicate
  const duplicates = w.talkRooms.reduce((n, r) => n + Math.max(0, s.botMessages(r).length - (w.sent.get(r)?.length ?? 0)), 0)
    + duplicatesIn(fanouts.flatMap((b) => bodiesPerRoom(s, w.fanoutRooms, b)));
  return { doneMs, duplicates };
}

/** Everything arrived exactly once: no duplicate, every answer in order, every fan-out body once per room, no dead letter. */
function expectExactlyOnce(w: World, fanouts: string[], duplicates: number): void {
  const { s } = w;
  expect(duplicates).toBe(0);
  for (const roomId of w.talkRooms) {
    expect(s.botMessages(roomId).map((e) => e.content["body"])).toEqual((w.sent.get(roomId) ?? []).map(echoReplyFor));
  }
  for (const body of fanouts) expect(bodiesPerRoom(s, w.fanoutRooms, body)).toEqual(w.fanoutRooms.map(() => 1));
  expect(s.bot.logs.lines().filter((l) => /dead letter/.test(l.msg ?? ""))).toEqual([]);
}

function describeMissing(w: World, fanouts: string[]): string {
  const { s } = w;
  const talk = w.talkRooms.map((r) => `${s.botMessages(r).length}/${w.sent.get(r)?.length ?? 0}`).join(" ");
  const fan = fanouts.map((b) => bodiesPerRoom(s, w.fanoutRooms, b).filter((n) => n >= 1).length).join(" ");
  const problems = s.bot.logs.lines().filter((l) => l.level >= 40).slice(-8).map((l) => JSON.stringify(l).slice(0, 400));
  return `answers per room ${talk}; fan-out rooms served ${fan} of ${w.fanoutRooms.length}\n${problems.join("\n")}`;
}

/** The bot's PUT /send attempts, per txnId, in order. */
function sendAttempts(s: Scenario): Map<string, Array<{ at: number; status: number | undefined }>> {
  const byTxn = new Map<string, Array<{ at: number; status: number | undefined }>>();
  for (const r of s.hs.requests) {
    if (r.method !== "PUT" || r.userId !== s.botUserId || !/\/rooms\/[^/]+\/send\//.test(r.path)) continue;
    const txnId = r.path.slice(r.path.lastIndexOf("/") + 1);
    const list = byTxn.get(txnId) ?? [];
    list.push({ at: r.at, status: r.status });
    byTxn.set(txnId, list);
  }
  return byTxn;
}

describe("fault: the homeserver", () => {
  let w: World | undefined;
  afterEach(async () => {
    await w?.s.stop();
    w = undefined;
  });

  it("429 on every other send for 10 s while rooms converse and fan-outs run: nothing lost or doubled, no retry early", async () => {
    const current = (w = await world());
    const { s } = current;
    const retryAfterMs = 250;
    const windowMs = 10_000;
    const started = Date.now();
    const until = started + windowMs;
    s.hs.failEvery({ method: "PUT", pathIncludes: "/send/", userId: s.botUserId },
      { status: 429, errcode: "M_LIMIT_EXCEEDED", retry_after_ms: retryAfterMs }, { every: 2, untilMs: until });
    const fanouts = ["Rate-limited digest 1", "Rate-limited digest 2"];
    const emitter = (async () => {
      await s.agent?.emitProactive("*", fanouts[0] ?? "");
      await sleep(windowMs / 2);
      await s.agent?.emitProactive("*", fanouts[1] ?? "");
    })();
    await Promise.all([converse(current, () => Date.now() >= until), emitter]);
    const { duplicates } = await nothingLost(current, fanouts, started);

    const waits: number[] = [];
    let limited = 0;
    let sends = 0;
    for (const attempts of sendAttempts(s).values()) {
      sends += attempts.length;
      attempts.forEach((a, i) => {
        if (a.status !== 429) return;
        limited += 1;
        const next = attempts[i + 1];
        if (next) waits.push(next.at - a.at);
      });
    }
    printFigure("429-on-half-the-sends-for-10s", {
      sends, rateLimited: limited, retryAfterMs, minWaitMs: Math.min(...waits), maxWaitMs: Math.max(...waits),
      turns: [...current.sent.values()].reduce((n, t) => n + t.length, 0), fanoutRooms: current.fanoutRooms.length, duplicates,
    });
    expectExactlyOnce(current, fanouts, duplicates);
    expect(limited).toBeGreaterThan(0);
    expect(waits.length).toBe(limited); // every rate-limited send was tried again
    expect(Math.min(...waits)).toBeGreaterThanOrEqual(retryAfterMs);
  });

  it("bursts of 502/503 and dropped connections: nothing lost or doubled, and the bot recovers", async () => {
    // Every retry budget comfortably outlasts a burst: 40 attempts of full-jitter backoff capped at RETRY_MAX_MS.
    const current = (w = await world({ SEND_MAX_ATTEMPTS: "40" }));
    const { s } = current;
    const burstMs = 4 * RETRY_MAX_MS;
    const all: FaultMatch = { userId: s.botUserId };
    const sends: FaultMatch = { method: "PUT", pathIncludes: "/send/", userId: s.botUserId };
    const bursts: Array<[FaultMatch, FaultReply]> = [
      [all, { status: 502 }], // a proxy's HTML error page, no errcode
      [all, { status: 503, errcode: "M_UNKNOWN", error: "Service unavailable" }],
      [sends, { dropConnection: true }],
      [sends, { dropConnection: true, afterHandling: true }], // committed, but the answer never came back
      [sends, { status: 502, afterHandling: true }],
      [all, { dropConnection: true }],
    ];
    let bursting = true;
    const fanouts = ["Digest through the storm 1", "Digest through the storm 2"];
    const started = Date.now();
    const storm = (async () => {
      for (const [i, [match, reply]] of bursts.entries()) {
        if (i === 2) await s.agent?.emitProactive("*", fanouts[0] ?? "");
        s.hs.failEvery(match, reply, { every: 1, untilMs: Date.now() + burstMs });
        await sleep(burstMs);
        if (i === 3) await s.agent?.emitProactive("*", fanouts[1] ?? "");
        await sleep(burstMs / 2); // a short calm between bursts
      }
      bursting = false;
    })();
    await Promise.all([converse(current, () => !bursting), storm]);
    const calmAt = Date.now();
    const { duplicates, doneMs: recoveryMs } = await nothingLost(current, fanouts, calmAt); // the quiet after it not counted
    const failed = s.hs.requests.filter((r) => r.userId === s.botUserId && r.at >= started && (r.status === 0 || (r.status ?? 0) >= 500)).length;
    printFigure("5xx-bursts-and-dropped-connections", {
      bursts: bursts.length, burstMs, failedRequests: failed, recoveryMs, duplicates,
      turns: [...current.sent.values()].reduce((n, t) => n + t.length, 0), fanoutRooms: current.fanoutRooms.length,
    });
    expectExactlyOnce(current, fanouts, duplicates);
    expect(errorLines(s.bot.logs).filter((l) => !/send failed/.test(l.msg ?? ""))).toEqual([]);
  });
});
