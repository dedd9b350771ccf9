// Hostile spaces cost bounded work: loops (a space listing itself or an ancestor) and malformed entries are
// skipped and logged; a space with 10,000 children gets at most MAX_CHILDREN_PER_SPACE join attempts, in the
// background, while other rooms are answered.
import { MAX_CHILDREN_PER_SPACE } from "../../../src/rooms/lifecycle";
import { echoReplyFor } from "../../../src/reference-agent/server";
import { MODES, Scenario } from "../../support/scenario";
import { scaled } from "../../support/wait";
import { addChild, createChild, createSpace, joinAttempts } from "./support";

describe.each(MODES)("%s mode", (mode) => {
  let s: Scenario;
  afterEach(async () => s?.stop());

  it("skips child loops and malformed children, and still follows the good ones", async () => {
    s = await Scenario.start({ mode });
    const { hs, alice, botUserId } = s;
    const outer = createSpace(hs, alice.userId, "outer");
    const inner = hs.createRoom(alice.userId, { name: "inner", preset: "public_chat", creationContent: { type: "m.space" } });
    const good = createChild(hs, alice.userId, "public", undefined, "good");
    addChild(hs, alice.userId, outer, inner);
    addChild(hs, alice.userId, inner, outer); // loop: the inner space lists its parent
    addChild(hs, alice.userId, inner, inner); // loop: it lists itself
    addChild(hs, alice.userId, inner, good);
    addChild(hs, alice.userId, outer, "not-a-room-id");
    addChild(hs, alice.userId, outer, "!has spaces:localhost");
    addChild(hs, alice.userId, outer, good, { via: "localhost" });
    addChild(hs, alice.userId, outer, "!x:localhost", { via: [42, { server: "localhost" }] });

    await alice.invite(outer, botUserId);
    await s.waitJoined(inner);
    await s.waitJoined(good);
    await s.bot.logs.waitFor((l) => l["spaceId"] === inner && String(l["reason"]).includes("ancestors"), "the loop is logged");
    await s.bot.logs.waitFor((l) => l.msg === "space children reconciled" && l["spaceId"] === inner, "the inner space is reconciled");
    await s.expectSteady(() => {
      const malformed = s.bot.logs.lines().filter((l) => l["spaceId"] === outer && (l.msg === "space lists malformed children; they were skipped" ||
        l.msg === "space child skipped"));
      expect(malformed.length).toBeGreaterThan(0);
      expect(joinAttempts(hs, botUserId, outer)).toBe(1); // the invite's join only: the loop back to it was not followed
      expect(joinAttempts(hs, botUserId, inner)).toBe(1);
    });
  });

  // Client mode is skipped for now: the 10,000 state events arrive in one /sync batch, and journaling them (before
  // any of them is routed) blocks the sync loop for about a minute here, so the DM is answered only after that.
  // The lifecycle's own work is bounded in both modes; see the report on issue 6 for the journal/gap-fill fix.
  it("follows at most MAX_CHILDREN_PER_SPACE of 10,000 children, and answers a DM meanwhile", async () => {
    // SPACES_MAX_ROOMS (per inviter, default 100) raised above the per-space bound, which is what this test is about.
    s = await Scenario.start({ mode, env: { SPACES_MAX_ROOMS: String(2 * MAX_CHILDREN_PER_SPACE) } });
    const { hs, alice, botUserId } = s;
    const huge = createSpace(hs, alice.userId, "huge");
    for (let i = 0; i < 10_000; i++) addChild(hs, alice.userId, huge, `!child${i}:localhost`); // rooms that do not exist
    const dm = await s.openDm();

    await alice.invite(huge, botUserId);
    await s.waitJoined(huge);
    await s.alice.sendText(dm, "are you still with me?");
    const [answer] = await s.waitBotMessages(dm, 1, "the DM answer while the space is worked through");
    expect(answer?.content["body"]).toBe(echoReplyFor("are you still with me?"));

    await s.bot.logs.waitFor((l) => l.msg === "space lists more children than the bot follows; the others are ignored", "the limit is logged", 30_000);
    await hs.waitFor(() => joinAttempts(hs, botUserId, "!child") >= MAX_CHILDREN_PER_SPACE,
      { what: "every followed child tried", timeoutMs: 30_000 });
    await s.expectSteady(() => expect(joinAttempts(hs, botUserId, "!child")).toBe(MAX_CHILDREN_PER_SPACE));
  }, scaled(90_000));
});
