// Issue 30's wiring: with a PostgreSQL or Redis store a second bot process waits as a standby (no agent session, no
// sync, nothing answered) until the active stops, then takes over at once (a clean stop releases the lease); with
// MATRIX_E2EE it refuses to be a standby (a configuration problem, exit code 2); on SQLite a second process on the
// same file stops with a clear error.
import type { ChildBot } from "../../support/bot-harness";
import { describeEachE2eBackend } from "../../support/backends";
import { botMessagesIn } from "../../support/bot-messages";
import { Scenario } from "../../support/scenario";
import { ACTIVE_LINE, ChildBots, STANDBY_LINE } from "../../support/standby";
import { waitFor } from "../../support/wait";
import { echoReplyFor } from "../../../src/reference-agent/server";

describeEachE2eBackend("a second bot process on the same store", (backend) => {
  let s: Scenario | undefined;
  const bots = new ChildBots();
  afterEach(async () => {
    await bots.stop();
    await s?.stop();
    s = undefined;
  });
  const second = (world: Scenario, extra: Record<string, string> = {}, ownDir = true): ChildBot =>
    bots.start({ ...world.botEnv, ...extra }, ownDir ? undefined : world.dataDir);
  const answers = (world: Scenario, roomId: string): string[] =>
    botMessagesIn(world.hs, roomId, world.botUserId).map((e) => String(e.content["body"]));

  if (backend === "sqlite") {
    it("on the same SQLite file stops at start with a clear error, and the first goes on answering", async () => {
      const world = (s = await Scenario.start({ mode: "client", backend }));
      const bot = second(world, {}, false);
      expect((await bot.exited).code).toBe(1);
      const fatal = bot.logs.find((l) => l.msg === "could not start");
      expect(JSON.stringify(fatal)).toMatch(/another bot process \(pid \d+, running since .*\) already uses this SQLite store/);
      const roomId = await world.openDm();
      await world.alice.sendText(roomId, "still there?");
      await waitFor(() => answers(world, roomId).includes(echoReplyFor("still there?")), { what: "the first process answers" });
    });
    return;
  }

  it("waits as a standby (no agent session, nothing answered), then takes over at once when the active stops", async () => {
    const world = (s = await Scenario.start({ mode: "client", backend, externalAgent: true }));
    const roomId = await world.openDm();
    const standby = second(world);
    await waitFor(() => standby.logs.find((l) => l.msg === STANDBY_LINE), { what: "the second process waiting as a standby" });
    await world.alice.sendText(roomId, "before");
    await waitFor(() => answers(world, roomId).includes(echoReplyFor("before")), { what: "the active answers" });
    expect(world.agent?.connections()).toBe(1); // the standby opened no agent session
    expect(standby.logs.find((l) => l.msg === "ready")).toBeUndefined();
    // A reverse proxy (or a monitor) sees the standby as not ready.
    const readyz = await fetch(`http://127.0.0.1:${String(standby.httpPort)}/readyz`);
    expect(readyz.status).toBe(503);

    await world.stopBot(); // a clean stop releases the lease: the standby takes it without waiting for it to expire
    await standby.ready();
    const took = standby.logs.find((l) => l.msg === ACTIVE_LINE);
    expect(Number(took?.["waitedMs"])).toBeGreaterThan(0);
    await world.alice.sendText(roomId, "after");
    await waitFor(() => answers(world, roomId).includes(echoReplyFor("after")), { what: "the new active answers" });
    await world.quiet();
    expect(answers(world, roomId).filter((b) => b === echoReplyFor("before") || b === echoReplyFor("after")))
      .toEqual([echoReplyFor("before"), echoReplyFor("after")]);
  });

  it("with MATRIX_E2EE=true refuses to wait as a standby, saying why like a configuration problem (exit code 2)", async () => {
    const world = (s = await Scenario.start({ mode: "client", backend }));
    const bot = second(world, { MATRIX_E2EE: "true", CRYPTO_PASSPHRASE: "standby-test-passphrase" });
    expect((await bot.exited).code).toBe(2); // a configuration problem: a supervisor does not restart it in a loop
    const fatal = bot.logs.find((l) => l.msg === "could not start");
    expect(JSON.stringify(fatal)).toMatch(/MATRIX_E2EE=true cannot run as a standby: another instance \(.* pid \d+\) holds the store lease/);
    // On stderr in the form of every other configuration problem: the variable, what is wrong, and the fix.
    expect(bot.stderr.join("")).toMatch(new RegExp("^matrix-agent-bot cannot start: the configuration has 1 problem:\n" +
      "MATRIX_E2EE: is true, and another instance \\(.* pid \\d+\\) holds the store lease.*crypto store is on its local disk.* " +
      "Fix: run one instance with MATRIX_E2EE .*or stop the other one first \\(runbook/scale-out.md\\)\\.\n$"));
    expect(bot.logs.find((l) => l.msg === STANDBY_LINE)).toBeUndefined();
    const roomId = await world.openDm(); // and the active goes on alone
    await world.alice.sendText(roomId, "still there?");
    await waitFor(() => answers(world, roomId).includes(echoReplyFor("still there?")), { what: "the active answers" });
  });
});
