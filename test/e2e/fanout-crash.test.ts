// SIGKILL of the bot process in the middle of a proactive fan-out, then a restart: every opted-in room holds
// exactly one copy. The agent runs outside the bot (it survives the crash) and replays what was never acked.
import { ChildBot } from "../support/bot-harness";
import { expectSteady, waitForBotSettled } from "../support/bot-idle";
import { allExactlyOnce, copiesPerRoom, createJoinedRooms, MANY_ROOMS_POLL, optInDirectly } from "../support/fanout-world";
import { Scenario } from "../support/scenario";
import { describeEachE2eBackend } from "../support/backends";

describeEachE2eBackend("SIGKILL during a proactive fan-out", (backend) => {
  let s: Scenario;
  const children: ChildBot[] = [];
  afterEach(async () => {
    for (const child of children.splice(0)) await child.stop();
    await s?.stop();
  });

  async function world(rooms: number): Promise<string[]> {
    s = await Scenario.start({ mode: "client", externalAgent: true, env: { FANOUT_CONCURRENCY: "4" }, backend });
    const ids = createJoinedRooms(s, rooms);
    await s.hs.waitFor(() => ids.every((r) => s.hs.sent({ roomId: r, sender: s.botUserId }).length > 0),
      { what: "introductions posted", timeoutMs: 30_000, ...MANY_ROOMS_POLL });
    await s.stopBot();
    await optInDirectly(s, ids);
    return ids;
  }

  /** Starts the bot again: each room ends with exactly one copy of `body`, and the agent's replay is acked. */
  async function restartServesEachOnce(rooms: string[], body: string): Promise<void> {
    const second = new ChildBot(s.botEnv);
    children.push(second);
    await second.ready();
    await s.hs.waitFor(() => allExactlyOnce(copiesPerRoom(s, rooms, body)),
      { what: "every room served once", timeoutMs: 30_000, ...MANY_ROOMS_POLL });
    await s.hs.waitFor(() => s.agentJournal.size() === 0, { what: "the agent's replay acked (handled, deduplicated where queued before)" });
    await expectSteady(() => waitForBotSettled(s.hs, s.botInbound, second),
      () => expect(allExactlyOnce(copiesPerRoom(s, rooms, body))).toBe(true));
  }

  it("killed after some rooms were served: after the restart each room has exactly one copy", async () => {
    const rooms = await world(150);
    const first = new ChildBot(s.botEnv);
    children.push(first);
    await first.ready();
    s.hs.sendDelayMs = 15;
    await s.agent?.emitProactive("*", "Crash-proof digest");
    await s.hs.waitFor(() => [...copiesPerRoom(s, rooms, "Crash-proof digest").values()].filter((n) => n > 0).length >= 30,
      { what: "30 rooms served", timeoutMs: 20_000, ...MANY_ROOMS_POLL });
    first.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");
    const served = [...copiesPerRoom(s, rooms, "Crash-proof digest").values()].filter((n) => n > 0).length;
    expect(served).toBeLessThan(rooms.length); // really killed mid fan-out

    await restartServesEachOnce(rooms, "Crash-proof digest");
  });

  it("killed between two chunks of a run's deliveries: the replay queues the rest, and each room has exactly one copy", async () => {
    const rooms = await world(150); // the first 100 rooms are queued (and sent) before the other 50 are recorded
    const first = new ChildBot({ ...s.botEnv, MAB_TEST_CRASH_AT: "proactive-chunk-queued" });
    children.push(first);
    await first.ready();
    await s.agent?.emitProactive("*", "Half queued");
    expect((await first.exited).signal).toBe("SIGKILL");
    const served = [...copiesPerRoom(s, rooms, "Half queued").values()].filter((n) => n > 0).length;
    expect(served).toBeLessThan(rooms.length);

    await restartServesEachOnce(rooms, "Half queued");
  });

  it("killed after queuing but before acking the agent: the replayed run is not delivered twice", async () => {
    const rooms = await world(30);
    const first = new ChildBot({ ...s.botEnv, MAB_TEST_CRASH_AT: "proactive-queued" });
    children.push(first);
    await first.ready();
    await s.agent?.emitProactive("*", "Replayed once");
    expect((await first.exited).signal).toBe("SIGKILL");

    await restartServesEachOnce(rooms, "Replayed once");
  });
});
