// Spaces: invited to a space, the bot joins the children it may join (public, or restricted to the space), not
// the others; follows children added later; leaves removed children it joined only because of the space.
import { MODES, Scenario } from "../../support/scenario";
import { addChild, createChild, createSpace, introductions, removeChild } from "./support";

describe.each(MODES)("%s mode", (mode) => {
  let s: Scenario;
  afterEach(async () => s?.stop());

  it("joins a space's public and restricted children, not the invite-only one; follows additions and removals", async () => {
    s = await Scenario.start({ mode });
    const { hs, alice, botUserId } = s;
    const space = createSpace(hs, alice.userId);
    const open = createChild(hs, alice.userId, "public");
    const restricted = createChild(hs, alice.userId, "restricted", space);
    const closed = createChild(hs, alice.userId, "invite");
    for (const child of [open, restricted, closed]) addChild(hs, alice.userId, space, child);
    // A room the bot is in for its own sake (invited directly), also listed in the space.
    const direct = await s.openGroup(alice);
    addChild(hs, alice.userId, space, direct);

    await alice.invite(space, botUserId);
    await s.waitJoined(space);
    await s.waitJoined(open);
    await s.waitJoined(restricted);
    await s.bot.logs.waitFor((l) => l.msg?.startsWith("space child not joined") === true && l["childId"] === closed, "the invite-only child is skipped");
    expect(hs.membership(closed, botUserId)).toBeUndefined();
    expect(hs.getState(restricted, "m.room.member", botUserId)?.content["join_authorised_via_users_server"]).toBe(alice.userId);
    // Joined children get the introduction; the space itself does not.
    await s.waitIntroduced(open);
    expect(introductions(hs, space, botUserId)).toHaveLength(0);

    // Added later: followed.
    const later = createChild(hs, alice.userId, "public", undefined, "added later");
    addChild(hs, alice.userId, space, later);
    await s.waitJoined(later);

    // Removed: left, because the bot joined it only through the space.
    removeChild(hs, alice.userId, space, open);
    await hs.waitFor(() => hs.membership(open, botUserId) === "leave", { what: "the bot leaves the removed child" });
    // Removed, but the bot was invited there directly: it stays.
    removeChild(hs, alice.userId, space, direct);
    await s.bot.logs.waitFor((l) => l["childId"] === direct && String(l.msg).includes("the bot stays"), "the direct room is kept");
    await s.expectSteady(() => {
      expect(hs.membership(direct, botUserId)).toBe("join");
      expect(hs.membership(restricted, botUserId)).toBe("join");
      expect(hs.membership(later, botUserId)).toBe("join");
    });
  });

  it("catches up with children added and removed while it was stopped", async () => {
    s = await Scenario.start({ mode });
    const { hs, alice, botUserId } = s;
    const space = createSpace(hs, alice.userId);
    const kept = createChild(hs, alice.userId, "public", undefined, "kept");
    const dropped = createChild(hs, alice.userId, "public", undefined, "dropped");
    for (const child of [kept, dropped]) addChild(hs, alice.userId, space, child);
    await alice.invite(space, botUserId);
    await s.waitJoined(kept);
    await s.waitJoined(dropped);

    await s.stopBot();
    removeChild(hs, alice.userId, space, dropped);
    const added = createChild(hs, alice.userId, "public", undefined, "added while stopped");
    addChild(hs, alice.userId, space, added);
    await s.startBot();
    await s.waitJoined(added);
    await hs.waitFor(() => hs.membership(dropped, botUserId) === "leave", { what: "the bot leaves the child removed meanwhile" });
    expect(hs.membership(kept, botUserId)).toBe("join");
  });

  it("with SPACES_FOLLOW_CHILDREN=false joins the space only", async () => {
    s = await Scenario.start({ mode, env: { SPACES_FOLLOW_CHILDREN: "false" } });
    const space = createSpace(s.hs, s.alice.userId);
    const open = createChild(s.hs, s.alice.userId, "public");
    addChild(s.hs, s.alice.userId, space, open);
    await s.alice.invite(space, s.botUserId);
    await s.waitJoined(space);
    const later = createChild(s.hs, s.alice.userId, "public");
    addChild(s.hs, s.alice.userId, space, later);
    await s.expectSteady(() => {
      expect(s.hs.membership(open, s.botUserId)).toBeUndefined();
      expect(s.hs.membership(later, s.botUserId)).toBeUndefined();
    });
  });
});
