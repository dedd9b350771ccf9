// A message that cannot be routed because the homeserver keeps failing the bot's member look-up (longer than the
// look-up's own retries) is answered once the homeserver recovers: tried again in place, without a restart, once.
import { Scenario } from "../support/scenario";

// The look-up's own budget, made short (its default, 250 ms to 5 s between six attempts, outlasts a 5xx burst in
// production); the routing retry has MATRIX_RETRY_* from the test timings.
const SHORT_LOOKUP = { ROOM_LOOKUP_RETRY_ATTEMPTS: "6", ROOM_LOOKUP_RETRY_BASE_MS: "10", ROOM_LOOKUP_RETRY_MAX_MS: "50" };

describe("routing a message through a homeserver outage", () => {
  let s: Scenario;
  afterEach(async () => s?.stop());

  it("answers once the member look-up works again, without a restart, and only once", async () => {
    s = await Scenario.start({ mode: "client", env: SHORT_LOOKUP });
    const roomId = await s.openDm();
    await s.alice.sendText(roomId, "before");
    await s.waitBotMessages(roomId, 1);
    await s.restartBot(); // room facts live in memory: after a restart the bot asks the homeserver for the members
    // The look-up tries 6 times on its own; 8 failures outlast that, so only a routing retry gets the answer out.
    s.hs.failNext({ method: "GET", pathIncludes: "/joined_members", userId: s.botUserId }, { status: 502 }, 8);
    await s.alice.sendText(roomId, "during the outage");
    await s.waitBotMessages(roomId, 2, "the answer after the outage");
    expect(s.hs.pendingFaults).toBe(0); // every failure was met
    const retried = s.bot.logs.lines().filter((l) => l.msg === "event could not be routed yet; trying again");
    expect(retried.length).toBeGreaterThanOrEqual(1);
    expect(s.bot.logs.lines().some((l) => l.msg === "event could not be routed")).toBe(false);
    await s.expectSteady(() => expect(s.botMessages(roomId)).toHaveLength(2));
  });
});
