// `ready` in the log and GET /readyz follow one rule (one report): /readyz says 503 (`starting`) until start-up is
// over, the log says `ready` only when /readyz says 200 and says `not ready` naming what is missing otherwise; a
// restart catches up with one /sync that does not wait (a long poll once held `ready` for up to 30 s).
import { InProcessBot } from "../support/bot-harness";
import type { LogLine } from "../support/log-capture";
import { Scenario } from "../support/scenario";

async function readyz(bot: InProcessBot): Promise<{ status: number; body: { ready: boolean; notReady: string[]; starting?: boolean } }> {
  const res = await fetch(`http://127.0.0.1:${bot.app.httpPort}/readyz`);
  return { status: res.status, body: (await res.json()) as { ready: boolean; notReady: string[]; starting?: boolean } };
}

const isReady = (l: LogLine): boolean => l.msg === "ready";

describe("the ready rule", () => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.stop();
    s = undefined;
  });

  it("/readyz says 503 `starting` until start-up is over, then 200 with the `ready` line", async () => {
    s = await Scenario.start({ mode: "client" });
    const dm = await s.openDm();
    await s.stopBot();
    s.hs.failNext({ pathIncludes: "/sync" }, { status: 502 }, 1_000_000); // start-up cannot finish: no first batch
    const bot = new InProcessBot(s.botEnv);
    const starting = bot.start();
    try {
      await s.hs.waitFor(() => bot.app.httpPort !== undefined && s?.hs.requests.some((r) => r.path.endsWith("/sync") && r.status === 502),
        { what: "a failed first /sync", timeoutMs: 15_000 });
      const during = await readyz(bot);
      expect(during.status).toBe(503);
      expect(during.body).toMatchObject({ ready: false, starting: true, notReady: [] }); // every check passes: only starting
      expect(bot.logs.find(isReady)).toBeUndefined();
      s.hs.clearFaults();
      await starting;
      await bot.logs.waitFor(isReady, "the ready line");
      expect((await readyz(bot)).status).toBe(200);
      await s.alice.sendText(dm, "still there?");
      await s.waitBotMessages(dm, 1, "the answer");
    } finally {
      await starting.catch(() => undefined);
      await bot.stop();
    }
  });

  it("with the agent down at start, logs `not ready` naming it, and `ready` only once /readyz says 200", async () => {
    s = await Scenario.start({ mode: "client", externalAgent: true });
    await s.stopBot();
    let down: InProcessBot | undefined;
    try {
      await s.restartAgent(async () => {
        down = await new InProcessBot(s!.botEnv).start();
        const notReady = await down.logs.waitFor((l) => l.msg?.startsWith("not ready") === true, "the not-ready line");
        expect(notReady).toMatchObject({ notReady: ["agent"], agent: expect.stringContaining("the agent link is") });
        const answer = await readyz(down);
        expect(answer.status).toBe(503);
        expect(answer.body.notReady).toEqual(["agent"]);
        expect(down.logs.find(isReady)).toBeUndefined();
      });
      const bot = down!;
      const line = await bot.logs.waitFor(isReady, "the ready line once the agent is back", 15_000);
      expect(line.agent).toBe(s.botEnv["AGENT_URL"]);
      expect((await readyz(bot)).status).toBe(200);
    } finally {
      await down?.stop();
    }
  });

  it("a restart catches up with a /sync that does not wait, so `ready` comes without waiting out a long poll", async () => {
    s = await Scenario.start({ mode: "client", env: { MATRIX_SYNC_TIMEOUT_MS: "60000" } });
    await s.openDm();
    await s.stopBot();
    const before = s.hs.requests.length;
    await s.startBot(); // with a saved sync token
    await s.bot.logs.waitFor(isReady, "the ready line (a first /sync waiting 60 s would hold it)");
    const syncs = s.hs.requests.slice(before).filter((r) => r.path.endsWith("/sync"));
    expect(syncs[0]?.query).toMatchObject({ since: [expect.any(String)], timeout: ["0"] });
    expect(syncs.slice(1).every((r) => r.query["timeout"]?.[0] === "60000")).toBe(true);
    expect((await readyz(s.bot)).status).toBe(200);
  });
});
