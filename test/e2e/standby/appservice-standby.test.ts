// Issue 30, appservice mode: with a PostgreSQL or Redis store both bot processes answer the homeserver's
// transactions (a reverse proxy may send each one to either); the standby stores them durably for the active and
// answers 200, opens no agent session and sends nothing; the active answers their events exactly once, also when the
// homeserver sends the same transaction again to the active; a standby that takes over answers what it held.
import { readFileSync } from "node:fs";
import { appserviceUrlOf, type ChildBot } from "../../support/bot-harness";
import { describeEachE2eBackend } from "../../support/backends";
import { botMessagesIn } from "../../support/bot-messages";
import { Scenario } from "../../support/scenario";
import { ACTIVE_LINE, ChildBots, heldTransactionCount, STANDBY_LINE } from "../../support/standby";
import { waitFor } from "../../support/wait";
import type { TransactionRecord } from "../../support/homeserver/types";
import { echoReplyFor } from "../../../src/reference-agent/server";

const HELD_LINE = "standby: transaction stored for the active";

describeEachE2eBackend("appservice mode: the standby answers transactions, the active processes them", (backend) => {
  let s: Scenario | undefined;
  const bots = new ChildBots();
  afterEach(async () => {
    await bots.stop();
    await s?.stop();
    s = undefined;
  });
  const answers = (world: Scenario, roomId: string): string[] =>
    botMessagesIn(world.hs, roomId, world.botUserId).map((e) => String(e.content["body"]));
  const appserviceIdOf = (world: Scenario): string => {
    if (!("appserviceId" in world.botInbound)) throw new Error("not an appservice world");
    return world.botInbound.appserviceId;
  };
  const hsTokenOf = (world: Scenario): string =>
    /^hs_token:\s*(\S+)\s*$/m.exec(readFileSync(world.botEnv["MATRIX_REGISTRATION"] ?? "", "utf8"))?.[1] ?? "";
  const listening = (bot: ChildBot): Promise<string> => waitFor(() => bot.appservicePort !== undefined && appserviceUrlOf(bot),
    { what: "the appservice listener of a child bot" });
  /** The transaction that carried `body`, once answered 200. */
  const answered200 = (world: Scenario, body: string): Promise<TransactionRecord> => waitFor(() => world.hs.transactions.find((r) =>
    r.status === 200 && r.events.some((e) => e.content["body"] === body)), { what: `the transaction carrying "${body}" answered 200` });
  /** Two child bots on the world's store: the active (on the world's DATA_DIR) and a standby. */
  const activeAndStandby = async (world: Scenario): Promise<{ active: ChildBot; standby: ChildBot }> => {
    await world.stopBot();
    const active = await bots.start(world.botEnv, world.dataDir).ready();
    world.hs.moveAppservice(appserviceIdOf(world), await listening(active));
    const standby = bots.start(world.botEnv);
    await waitFor(() => standby.logs.find((l) => l.msg === STANDBY_LINE), { what: "the second process waiting as a standby" });
    await listening(standby);
    return { active, standby };
  };

  if (backend === "sqlite") {
    it("on the same SQLite file a second appservice process stops at start with a clear error, and the first goes on answering", async () => {
      const world = (s = await Scenario.start({ mode: "appservice", backend }));
      const roomId = await world.openDm();
      const bot = bots.start(world.botEnv, world.dataDir);
      expect((await bot.exited).code).toBe(1);
      expect(JSON.stringify(bot.logs.find((l) => l.msg === "could not start"))).toMatch(/already uses this SQLite store/);
      expect(bot.appservicePort).toBeUndefined(); // it never listened: the homeserver cannot reach a process that answers nothing
      await world.alice.sendText(roomId, "still there?");
      await waitFor(() => answers(world, roomId).includes(echoReplyFor("still there?")), { what: "the first process answers" });
    });
    return;
  }

  it("the standby answers a transaction 200 and stores it, sending nothing; the active answers it once, also when it is sent again to the active", async () => {
    const world = (s = await Scenario.start({ mode: "appservice", backend, externalAgent: true, env: { LEASE_MS: "30000" } }));
    const roomId = await world.openDm();
    const { active, standby } = await activeAndStandby(world);
    // What a reverse proxy and a monitor see of the standby: not ready (it says it is a standby), alive, its ping answered.
    const readyz = await fetch(`http://127.0.0.1:${String(standby.httpPort)}/readyz`);
    expect(readyz.status).toBe(503);
    expect(await readyz.json()).toMatchObject({ ready: false, standby: true });
    expect((await fetch(`http://127.0.0.1:${String(standby.httpPort)}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${String(standby.httpPort)}/metrics`)).status).toBe(200);
    const ping = await fetch(`${appserviceUrlOf(standby)}/_matrix/app/v1/ping`, { method: "POST", body: "{}",
      headers: { authorization: `Bearer ${hsTokenOf(world)}`, "content-type": "application/json" } });
    expect(ping.status).toBe(200);
    const wrong = await fetch(`${appserviceUrlOf(standby)}/_matrix/app/v1/transactions/forged`, { method: "PUT", body: '{"events":[]}',
      headers: { authorization: "Bearer not-the-hs-token", "content-type": "application/json" } });
    expect(wrong.status).toBe(403);

    // The active paused (its lease holds: 30 s), the homeserver pushes to the standby.
    active.kill("SIGSTOP");
    let record: TransactionRecord;
    try {
      world.hs.moveAppservice(appserviceIdOf(world), appserviceUrlOf(standby));
      await world.alice.sendText(roomId, "held by the standby");
      record = await answered200(world, "held by the standby");
      await waitFor(() => standby.logs.find((l) => l.msg === HELD_LINE && l["txnId"] === record.txnId), { what: "the standby storing it" });
      expect(await heldTransactionCount(world.store)).toBe(1); // durable on the shared server before the 200
      expect(answers(world, roomId)).not.toContain(echoReplyFor("held by the standby"));
      expect(world.agent?.connections()).toBe(1); // the paused active's: the standby opened no agent session
    } finally {
      active.kill("SIGCONT");
    }
    await waitFor(() => answers(world, roomId).includes(echoReplyFor("held by the standby")), { what: "the active answering what the standby held" });
    await waitFor(async () => (await heldTransactionCount(world.store)) === 0, { what: "the held transaction taken by the active" });

    // The homeserver sends the same transaction again, to the active this time (a retry through a reverse proxy).
    const again = await fetch(`${appserviceUrlOf(active)}/_matrix/app/v1/transactions/${encodeURIComponent(record.txnId)}`, { method: "PUT",
      body: JSON.stringify({ events: record.events }), headers: { authorization: `Bearer ${hsTokenOf(world)}`, "content-type": "application/json" } });
    expect(again.status).toBe(200);
    world.hs.moveAppservice(appserviceIdOf(world), appserviceUrlOf(active));
    await world.alice.sendText(roomId, "after");
    // The room's events are answered in order: a second answer to the held one would come before this one.
    await waitFor(() => answers(world, roomId).includes(echoReplyFor("after")), { what: "the active answering the next message" });
    expect(answers(world, roomId).filter((b) => b.startsWith(echoReplyFor("")) || b === echoReplyFor("after")))
      .toEqual([echoReplyFor("held by the standby"), echoReplyFor("after")]);
    expect(standby.logs.find((l) => l.msg === "ready")).toBeUndefined();
  });

  it("a standby that takes over after a SIGKILL of the active answers what it held meanwhile, once", async () => {
    // The lease long enough for the standby to get the message before it takes over, even on a loaded machine.
    const world = (s = await Scenario.start({ mode: "appservice", backend, externalAgent: true, env: { LEASE_MS: "8000" } }));
    const roomId = await world.openDm();
    const { active, standby } = await activeAndStandby(world);
    active.kill("SIGKILL");
    await active.exited;
    world.hs.moveAppservice(appserviceIdOf(world), appserviceUrlOf(standby));
    await world.alice.sendText(roomId, "while nobody is active");
    const record = await answered200(world, "while nobody is active");
    await waitFor(() => standby.logs.find((l) => l.msg === HELD_LINE && l["txnId"] === record.txnId), { what: "the standby storing it" });
    await standby.ready();
    expect(standby.logs.find((l) => l.msg === ACTIVE_LINE)).toBeDefined();
    await waitFor(() => answers(world, roomId).includes(echoReplyFor("while nobody is active")), { what: "the new active answering what it held" });
    await world.alice.sendText(roomId, "after the takeover");
    await waitFor(() => answers(world, roomId).includes(echoReplyFor("after the takeover")), { what: "the new active answering" });
    expect(answers(world, roomId).filter((b) => b.startsWith(echoReplyFor(""))))
      .toEqual([echoReplyFor("while nobody is active"), echoReplyFor("after the takeover")]);
    expect(await heldTransactionCount(world.store)).toBe(0);
  });
});
