// Waiting on what the bot says about itself, never on the clock: its /metrics report `matrix_agent_bot_idle`
// (1: no room event being routed, no agent run in flight or queued, nothing pending in the outbox) and
// `matrix_agent_bot_work_in_flight{kind}`. Tests read them over HTTP like any operator would.
import { request } from "node:http";
import type { Homeserver } from "./homeserver";
import { waitFor, type WaitOptions } from "./wait";

export { expectSteady } from "./wait";

export interface BotWork {
  idle: boolean;
  /** work_in_flight by kind (router, turns, outbox). */
  work: Record<string, number>;
}

/** Between two scrapes of /metrics while waiting (a scrape costs the bot a little CPU). */
const SCRAPE_INTERVAL_MS = 20;

/** Where the bot's HTTP server listens: its port, or anything with `httpPort` (App, after start()). */
export type BotHttp = number | { readonly httpPort: number | undefined };

function portOf(target: BotHttp): number {
  const port = typeof target === "number" ? target : target.httpPort;
  if (port === undefined) throw new Error("the bot's HTTP server is not listening (start the bot first)");
  return port;
}

/** GET /metrics once (a connection of its own, closed after: no socket outlives the call). */
export function scrapeMetrics(target: BotHttp): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: portOf(target), path: "/metrics", agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString("utf8"))
        : reject(new Error(`GET /metrics answered ${res.statusCode ?? "?"}`))));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/** The bot's idle gauge and work counts, as /metrics reports them now. */
export async function readBotWork(target: BotHttp): Promise<BotWork> {
  const text = await scrapeMetrics(target);
  const idle = /^matrix_agent_bot_idle (\S+)$/m.exec(text)?.[1];
  const work: Record<string, number> = {};
  for (const m of text.matchAll(/^matrix_agent_bot_work_in_flight\{kind="([^"]+)"\} (\S+)$/gm)) work[m[1] ?? ""] = Number(m[2]);
  return { idle: idle === "1", work };
}

/** Waits until the bot's work counts satisfy `ready` (e.g. nothing routing, one run still going). */
export async function waitForBotWork(target: BotHttp, ready: (work: Record<string, number>) => boolean, opts: WaitOptions = {}): Promise<void> {
  let last: BotWork | undefined;
  await waitFor(async () => {
    last = await readBotWork(target);
    return ready(last.work);
  }, { what: "the bot's work_in_flight to reach the expected counts", intervalMs: SCRAPE_INTERVAL_MS, ...opts, describe: () => `last work_in_flight: ${JSON.stringify(last?.work)}` });
}

/** Waits until the bot reports idle in /metrics. */
export async function waitForBotIdle(target: BotHttp, opts: WaitOptions = {}): Promise<void> {
  let last: BotWork | undefined;
  await waitFor(async () => {
    last = await readBotWork(target);
    return last.idle;
  }, { what: "the bot to report idle in /metrics", intervalMs: SCRAPE_INTERVAL_MS, ...opts, describe: () => `last work_in_flight: ${JSON.stringify(last?.work)}` });
}

/** How the bot receives room events from the double: a /sync loop as `userId`, or an appservice's pushes. */
export type BotInbound = { syncUserId: string } | { appserviceId: string };

/** Whether the bot has been handed (and journaled) every event the double holds for it. */
export function botCaughtUp(hs: Homeserver, inbound: BotInbound): boolean {
  return "syncUserId" in inbound ? hs.syncCaughtUp(inbound.syncUserId) : hs.appserviceIdle(inbound.appserviceId);
}

/**
 * Waits until the bot has settled: it was handed every event the homeserver double holds, reports idle, and the
 * double's stream did not move meanwhile (the bot's own work posted nothing new it must react to). After this,
 * whatever the bot was going to do about the events so far is done.
 */
export async function waitForBotSettled(hs: Homeserver, inbound: BotInbound, target: BotHttp, opts: WaitOptions = {}): Promise<void> {
  let last: BotWork | undefined;
  let caughtUp = false;
  await waitFor(async () => {
    const before = hs.streamToken;
    caughtUp = botCaughtUp(hs, inbound);
    if (!caughtUp) return false;
    last = await readBotWork(target);
    return last.idle && hs.streamToken === before && botCaughtUp(hs, inbound);
  }, { what: "the bot to settle (caught up with the homeserver and idle)", intervalMs: SCRAPE_INTERVAL_MS, ...opts,
    describe: () => `caught up: ${caughtUp}; last work_in_flight: ${JSON.stringify(last?.work)}` });
}
