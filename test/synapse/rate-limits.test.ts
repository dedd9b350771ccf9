// Synapse's own rate limits: the run's second Synapse start (SYNAPSE_RATE_LIMITS=default: rc_message 0.2/s, burst
// 10; global-setup.ts starts it beside the main one). In client mode the bot is an ordinary, rate-limited account: an
// answer of twelve messages right after its introduction meets real 429s (M_LIMIT_EXCEEDED with retry_after_ms);
// the bot waits them out and every part arrives once, in order. (An appservice registered with `rate_limited: false`,
// as `npm run register` writes it, is not limited at all.)
import { readFileSync } from "node:fs";
import path from "node:path";
import { MatrixTestUser } from "../support/matrix-test-user";
import { JsSdkPeer } from "../support/js-sdk-peer";
import type { LogLine } from "../support/log-capture";
import { BotUnderTest, botEnvFor } from "./support/bot";
import { partText, ScenarioAgent } from "./support/brain";
import { botLogDir, synapseRun } from "./support/run";
import { stopSynapse } from "./support/synapse";
import { isIntroduction, messagesBy } from "./support/world";

const PARTS = 12;

describe("Synapse's own rate limits (second start, SYNAPSE_RATE_LIMITS=default)", () => {
  const first = synapseRun();
  const server = first.defaultLimits;
  const run = { ...first, url: server.url, port: server.port, state: server.state };
  const botUserId = server.users.limitbot.userId;
  const agent = new ScenarioAgent();
  // LOG_REPEAT_WINDOW_MS=0: every "send failed, retrying" line is written (the test counts them).
  const bot = new BotUnderTest((dataDir) => ({ ...botEnvFor(run, "client", dataDir, agent, server.users.limitbot), LOG_REPEAT_WINDOW_MS: "0" }),
    { logs: { dir: botLogDir(first), label: "rate-limits" } });
  let alice: JsSdkPeer;

  /** Synapse's answers to the bot's message sends, in order: the transaction id and the status. */
  const synapseSends = (): Array<{ txnId: string; status: number }> => readFileSync(path.join(server.state, "homeserver.log"), "utf8").split("\n")
    .filter((l) => l.includes(`{${botUserId}}`))
    .flatMap((l) => {
      const m = / (\d{3}) "PUT \/_matrix\/client\/v3\/rooms\/[^ ]+\/send\/m\.room\.message\/([^ ]+) HTTP/.exec(l);
      return m ? [{ status: Number(m[1]), txnId: decodeURIComponent(m[2] ?? "") }] : [];
    });

  beforeAll(async () => {
    // Alice signs in with register.sh's token: no further login (Synapse's default rc_login allows 3 in a burst).
    const aliceHttp = new MatrixTestUser(server.url, server.users.alice);
    const { device_id: deviceId } = await aliceHttp.whoami();
    alice = new JsSdkPeer({ hsUrl: server.url, userId: aliceHttp.userId, accessToken: aliceHttp.accessToken, deviceId: deviceId ?? "" },
      { crypto: false, pollTimeout: 5000, timelineLimit: 100 });
    await agent.start();
    await bot.start();
    await alice.start();
  });
  afterAll(async () => {
    await alice?.stop();
    await bot.stop();
    await agent.close();
    await stopSynapse(server); // not needed any more; global-teardown.ts would stop it too
  });

  it("waits out Synapse's 429s (retry_after_ms) and delivers every part of a long answer once, in order", async () => {
    const dm = await alice.createRoom({ is_direct: true, invite: [botUserId], preset: "trusted_private_chat" });
    await alice.waitMessages(dm, (ms) => ms.some((m) => m.sender === botUserId && isIntroduction(m)), "the introduction", 30_000);
    await alice.send(dm, `parts:${PARTS} please`);
    await alice.waitMessages(dm, (ms) => messagesBy(ms, botUserId).some((m) => m.body === partText(PARTS, PARTS) && !m.live), "the last part", 90_000);
    await bot.waitForIdle();
    const parts = messagesBy(await alice.history(dm), botUserId).map((m) => m.body);
    expect(parts).toEqual(Array.from({ length: PARTS }, (_, i) => partText(i + 1, PARTS)));

    // Synapse answered some sends 429; the bot waited as told each time: the next try of that send was accepted.
    const sends = synapseSends();
    const limited = sends.filter((s) => s.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    for (const [i, send] of sends.entries()) {
      if (send.status === 429) expect(sends.slice(i + 1).find((later) => later.txnId === send.txnId)?.status).toBe(200);
    }
    const waits = bot.child.logs.lines().filter((l) => l.msg === "send failed, retrying");
    const reason = (l: LogLine): string => String((l["error"] as { message?: unknown } | undefined)?.message).split(":")[0] ?? "";
    expect(waits.map((l) => [l["txnId"], reason(l)])).toEqual(limited.map((s) => [s.txnId, "rate_limited 429 M_LIMIT_EXCEEDED"]));
    expect(await bot.metrics()).toMatch(new RegExp(`^matrix_agent_bot_rate_limit_waits_total ${limited.length}$`, "m"));
  });
});
