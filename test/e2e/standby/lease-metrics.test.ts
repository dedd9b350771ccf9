// The store lease in /metrics (issue 30), read over HTTP from real bot processes as an operator's scraper does: the
// active shows lease_active 1 with its fencing token and a deadline that holds, a standby 0; SIGKILL the active and
// the standby's gauge flips to 1 with the next token and one takeover. On SQLite there is no lease, so no lease_*.
import { describeEachE2eBackend } from "../../support/backends";
import { scrapeMetrics } from "../../support/bot-idle";
import type { ChildBot } from "../../support/bot-harness";
import { Scenario } from "../../support/scenario";
import { ChildBots, STANDBY_LINE } from "../../support/standby";
import { waitFor } from "../../support/wait";

// Long enough that a loaded machine renews well within the local deadline (every 2 s, deadline 4.8 s); a takeover
// waits ≤ 6 s.
const LEASE_MS = 6000;

/** The lease_* series of a /metrics text, by name (with labels, if any), e.g. `lease_renewal_failures_total{why="error"}`. */
function leaseFigures(text: string): Record<string, number> {
  const figures: Record<string, number> = {};
  for (const m of text.matchAll(/^matrix_agent_bot_(lease_\w+(?:\{[^}]*\})?) (\S+)$/gm)) figures[m[1] ?? ""] = Number(m[2]);
  return figures;
}

async function leaseOf(bot: ChildBot): Promise<Record<string, number>> {
  return leaseFigures(await scrapeMetrics(bot));
}

describeEachE2eBackend("the store lease in /metrics", (backend) => {
  let s: Scenario | undefined;
  const bots = new ChildBots();
  afterEach(async () => {
    await bots.stop();
    await s?.stop();
    s = undefined;
  });

  if (backend === "sqlite") {
    it("a bot on SQLite holds no lease and shows no lease_* series", async () => {
      const world = (s = await Scenario.start({ mode: "client", backend }));
      const text = await scrapeMetrics(world.bot.app);
      expect(text).toMatch(/^matrix_agent_bot_idle /m);
      expect(leaseFigures(text)).toEqual({});
    });
    return;
  }

  it("the active shows lease_active 1 with its token, the standby 0; after a SIGKILL of the active the standby's flips to 1 with the next token and one takeover", async () => {
    const world = (s = await Scenario.start({ mode: "client", backend, env: { LEASE_MS: String(LEASE_MS) } }));
    await world.stopBot(); // the world's in-process bot steps aside: two real processes from here on
    const active = await bots.start(world.botEnv, world.dataDir).ready();
    const standby = bots.start(world.botEnv);
    await waitFor(() => standby.logs.find((l) => l.msg === STANDBY_LINE), { what: "the second process waiting as a standby" });

    const before = await leaseOf(active);
    const token = before["lease_fencing_token"] ?? 0;
    expect(before).toMatchObject({ lease_active: 1, lease_takeovers_total: 0,
      'lease_renewal_failures_total{why="error"}': 0, 'lease_renewal_failures_total{why="refused"}': 0 });
    expect(token).toBeGreaterThanOrEqual(1);
    expect(before["lease_deadline_seconds"]).toBeGreaterThan(0);
    expect(before["lease_deadline_seconds"]).toBeLessThanOrEqual((LEASE_MS * 4) / 5 / 1000);
    expect(before["lease_renewed_seconds_ago"]).toBeGreaterThanOrEqual(0);
    expect(await leaseOf(standby)).toMatchObject({ lease_active: 0, lease_fencing_token: 0, lease_deadline_seconds: 0, lease_takeovers_total: 0 });

    active.kill("SIGKILL"); // no release: the standby takes the lease once it expires
    await active.exited;
    let after: Record<string, number> = {};
    await waitFor(async () => {
      after = await leaseOf(standby);
      return after["lease_active"] === 1;
    }, { what: "the standby's lease_active to flip to 1", describe: () => JSON.stringify(after) });
    expect(after).toMatchObject({ lease_fencing_token: token + 1, lease_takeovers_total: 1 });
    expect(after["lease_deadline_seconds"]).toBeGreaterThan(0);
    await standby.ready();
  });
});
