// Proactive fan-out: agent-initiated results reach every opted-in room exactly once, and no other room;
// bounded concurrency; one room's failure never delays another; dead letters announced; store faults.
import { expectSteady, waitForBotWork } from "../support/bot-idle";
import { FaultyStoreAdapter } from "../support/faulty-store";
import { allExactlyOnce, copiesPerRoom, createJoinedRooms, MANY_ROOMS_POLL, optInDirectly } from "../support/fanout-world";
import { MODES, Scenario } from "../support/scenario";
import { describeEachE2eBackend } from "../support/backends";

async function optInByCommand(s: Scenario, roomId: string): Promise<void> {
  const before = s.botMessages(roomId).length;
  await s.alice.sendText(roomId, "!proactive on");
  await s.waitBotMessages(roomId, before + 1, "the opt-in confirmation");
}

describeEachE2eBackend("fan-out exactly once", (backend) => describe.each(MODES)("in %s mode", (mode) => {
  let s: Scenario;
  afterEach(async () => s?.stop());

  it("goes to every opted-in room once and to no other", async () => {
    s = await Scenario.start({ mode, externalAgent: true, backend });
    const rooms = [await s.openDm(), await s.openGroup(s.alice), await s.openGroup(s.alice)];
    const quietRooms = [await s.openGroup(s.alice), await s.openGroup(s.alice)];
    for (const roomId of rooms) await optInByCommand(s, roomId);
    const before = new Map(quietRooms.map((r) => [r, s.botMessages(r).length]));

    await s.agent?.emitProactive("*", "Daily digest: all quiet.");
    await s.hs.waitFor(() => allExactlyOnce(copiesPerRoom(s, rooms, "Daily digest: all quiet.")), { what: "one copy per opted-in room" });
    await s.expectSteady(() => {
      expect([...copiesPerRoom(s, rooms, "Daily digest: all quiet.").values()]).toEqual([1, 1, 1]);
      for (const roomId of quietRooms) expect(s.botMessages(roomId)).toHaveLength(before.get(roomId) ?? -1);
    });
  });
}));

describe("fan-out at scale and under failure (client mode)", () => {
  let s: Scenario;
  afterEach(async () => s?.stop());

  it("delivers one copy to each of 200 opted-in rooms with bounded concurrency", async () => {
    s = await Scenario.start({ mode: "client", externalAgent: true, env: { SEND_CONCURRENCY: "6", FANOUT_CONCURRENCY: "6" } });
    await s.stopBot();
    const rooms = createJoinedRooms(s, 200);
    await optInDirectly(s.dataDir, rooms);
    await s.startBot();
    s.hs.sendDelayMs = 10;
    s.hs.resetInFlight();

    await s.agent?.emitProactive("*", "Two hundred rooms");
    await s.hs.waitFor(() => allExactlyOnce(copiesPerRoom(s, rooms, "Two hundred rooms")), { what: "200 copies", timeoutMs: 30_000, ...MANY_ROOMS_POLL });
    await s.expectSteady(() => expect(allExactlyOnce(copiesPerRoom(s, rooms, "Two hundred rooms"))).toBe(true));
    expect(s.hs.inFlight.max).toBeGreaterThan(1);
    expect(s.hs.inFlight.max).toBeLessThanOrEqual(6);
  });

  it("a forbidden room becomes an announced dead letter and a rate-limited one waits, while the others are served", async () => {
    s = await Scenario.start({ mode: "client", externalAgent: true, env: { SEND_MAX_ATTEMPTS: "4" } });
    const admin = await s.openGroup(s.alice);
    await s.stopBot();
    const rooms = createJoinedRooms(s, 6);
    const [gone, slow, ...fine] = rooms as [string, string, ...string[]];
    await optInDirectly(s.dataDir, rooms);
    s.setBotEnv("ADMIN_ROOM", admin);
    await s.startBot();
    s.hs.leave(s.botUserId, gone);
    s.hs.failNext({ method: "PUT", pathIncludes: encodeURIComponent(slow), userId: s.botUserId },
      { status: 429, errcode: "M_LIMIT_EXCEEDED", retry_after_ms: 500 }, 1);

    await s.agent?.emitProactive("*", "Heads up");
    await s.hs.waitFor(() => copiesPerRoom(s, [slow], "Heads up").get(slow) === 1, { what: "the rate-limited room served" });
    const firstFine = Math.max(...fine.map((r) => s.botMessages(r).find((e) => e.content["body"] === "Heads up")?.origin_server_ts ?? Infinity));
    const slowAt = s.botMessages(slow).find((e) => e.content["body"] === "Heads up")?.origin_server_ts ?? 0;
    expect(firstFine).toBeLessThan(slowAt); // the others did not wait for the rate-limited room
    expect(allExactlyOnce(copiesPerRoom(s, fine, "Heads up"))).toBe(true);
    const notice = await s.hs.waitFor(() => s.botMessages(admin).find((e) => String(e.content["body"]).includes(gone)), { what: "the dead letter announced" });
    expect(String(notice.content["body"])).toMatch(/could not be delivered/);
    const errors = s.bot.logs.lines().filter((l) => l.level >= 50 && l.roomId === gone);
    expect(errors.length).toBeGreaterThan(0);
  });

  it("an exhausted delivery shows in /status, and /outbox retry from an admin delivers it", async () => {
    s = await Scenario.start({ mode: "client", externalAgent: true, env: { SEND_MAX_ATTEMPTS: "2", BOT_ADMINS: "@alice:localhost" } });
    const roomId = await s.openDm();
    await optInByCommand(s, roomId);
    s.hs.failNext({ method: "PUT", pathIncludes: "/send/", userId: s.botUserId }, { status: 502 }, 2);
    await s.agent?.emitProactive("*", "Eventually delivered");
    await s.bot.logs.waitFor((l) => l.level >= 50 && l.roomId === roomId, "the dead letter logged at error level");
    const before = s.botMessages(roomId).length;
    await s.alice.sendText(roomId, "!status");
    const status = String((await s.waitBotMessages(roomId, before + 1))[before]?.content["body"]);
    expect(status).toMatch(/1 message that could not be delivered/);
    await s.alice.sendText(roomId, "!outbox retry");
    await s.hs.waitFor(() => copiesPerRoom(s, [roomId], "Eventually delivered").get(roomId) === 1, { what: "delivered after the retry" });
  });

  it("keeps opt-ins across a restart", async () => {
    s = await Scenario.start({ mode: "client", externalAgent: true });
    const roomId = await s.openDm();
    await optInByCommand(s, roomId);
    await s.restartBot();
    await s.agent?.emitProactive("*", "Still here after a restart");
    await s.hs.waitFor(() => copiesPerRoom(s, [roomId], "Still here after a restart").get(roomId) === 1, { what: "delivered after restart" });
  });

  it("does not ack a run it could not queue during a store outage, and delivers it once after the agent replays it", async () => {
    let faulty: FaultyStoreAdapter | undefined;
    s = await Scenario.start({ mode: "client", externalAgent: true,
      overrides: { wrapStoreAdapter: (a) => (faulty = new FaultyStoreAdapter(a)) } });
    const roomId = await s.openDm();
    await optInByCommand(s, roomId);
    faulty?.failAll(true);
    await s.agent?.emitProactive("*", "Through an outage");
    await s.bot.logs.waitFor((l) => /agent-initiated handler failed/.test(l.msg ?? ""), "the run refused (not acked) while the store fails");
    // The store is down, so the bot cannot catch up with the homeserver (it cannot journal): it has settled once
    // nothing is being routed, queued for fan-out or sent.
    await expectSteady(() => waitForBotWork(s.bot.app, (work) => work["router"] === 0 && work["outbox"] === 0),
      () => expect(copiesPerRoom(s, [roomId], "Through an outage").get(roomId)).toBe(0));
    faulty?.failAll(false);
    s.agent?.dropConnections(); // the bot reconnects; the agent replays what was never acked
    await s.hs.waitFor(() => copiesPerRoom(s, [roomId], "Through an outage").get(roomId) === 1, { what: "delivered after the replay" });
    await s.expectSteady(() => expect(copiesPerRoom(s, [roomId], "Through an outage").get(roomId)).toBe(1));
  });
});
