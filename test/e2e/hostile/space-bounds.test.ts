// Issue 14, finding 5: one invite to a hostile space costs bounded work. At most SPACES_MAX_ROOMS rooms across the
// inviter's space and its sub-spaces; a child is joined only when public or restricted to a space the inviter is
// joined to; the bot introduces itself only where an allowed user is a member; /new is capped per user.
import { MODES, Scenario } from "../../support/scenario";
import { scaled } from "../../support/wait";
import { addChild, createChild, createSpace, introductions, provisionedRooms, waitProvisioned } from "../lifecycle/support";

describe.each(MODES)("%s mode", (mode) => {
  let s: Scenario;
  afterEach(async () => s?.stop());

  it("a space of 30 children and a sub-space of 30 more: at most SPACES_MAX_ROOMS joined, no introduction without an allowed user", async () => {
    s = await Scenario.start({ mode, env: { ALLOWED_USERS: "@alice:localhost", SPACES_MAX_ROOMS: "10" } });
    const { hs, alice, botUserId } = s;
    const mallory = s.person("mallory", "Mallory").userId;
    const space = createSpace(hs, mallory, "hostile");
    hs.invite(mallory, space, alice.userId);
    hs.join(alice.userId, space);
    const sub = hs.createRoom(mallory, { name: "sub", preset: "public_chat", creationContent: { type: "m.space" } });
    addChild(hs, mallory, space, sub);
    const children = [
      ...Array.from({ length: 30 }, (_, i) => { const c = createChild(hs, mallory, "public", undefined, `a${i}`); addChild(hs, mallory, space, c); return c; }),
      ...Array.from({ length: 30 }, (_, i) => { const c = createChild(hs, mallory, "public", undefined, `b${i}`); addChild(hs, mallory, sub, c); return c; }),
    ];

    await alice.invite(space, botUserId);
    await s.waitJoined(space);
    const reached = (): string[] => [sub, ...children].filter((r) => hs.membership(r, botUserId) === "join");
    await hs.waitFor(() => reached().length >= 10, { what: "the rooms within the cap joined", timeoutMs: 30_000 });
    await s.bot.logs.waitFor((l) => l.msg === "space children reconciled" && l["spaceId"] === sub, "the sub-space is reconciled", 30_000);
    await s.expectSteady(() => {
      const joined = [sub, ...children].filter((r) => hs.membership(r, botUserId) === "join");
      expect(joined.length).toBeGreaterThan(0);
      expect(joined.length).toBeLessThanOrEqual(10);
      expect(joined.flatMap((r) => introductions(hs, r, botUserId))).toHaveLength(0); // no allowed user in any of them
    });
  }, scaled(60_000));

  it("joins children that are public or restricted to a space the inviter is in; introduces itself only where an allowed user is", async () => {
    s = await Scenario.start({ mode, env: { ALLOWED_USERS: "@alice:localhost" } });
    const { hs, alice, botUserId } = s;
    const mallory = s.person("mallory", "Mallory").userId;
    const space = createSpace(hs, mallory, "shared");
    hs.invite(mallory, space, alice.userId);
    hs.join(alice.userId, space);
    const alicesRoom = createChild(hs, alice.userId, "public", undefined, "alice's room");
    const forSpaceMembers = createChild(hs, mallory, "restricted", space, "for space members");
    const sub = hs.createRoom(mallory, { name: "sub", preset: "public_chat", creationContent: { type: "m.space" } });
    const forSubMembers = createChild(hs, mallory, "restricted", sub, "for sub-space members");
    for (const child of [alicesRoom, forSpaceMembers, sub]) addChild(hs, mallory, space, child);
    addChild(hs, mallory, sub, forSubMembers);

    await alice.invite(space, botUserId);
    await s.waitJoined(alicesRoom);
    await s.waitJoined(forSpaceMembers);
    await s.waitJoined(sub);
    await s.bot.logs.waitFor((l) => l["childId"] === forSubMembers &&
      (String(l.msg).startsWith("space child not joined") || l.msg === "joined a space child room"), "the sub-space's child is tried", 30_000);
    expect(hs.membership(forSubMembers, botUserId)).not.toBe("join"); // Alice is not in the sub-space
    await s.waitIntroduced(alicesRoom);
    await s.bot.logs.waitFor((l) => l["roomId"] === forSpaceMembers &&
      (l.msg === "introduction posted" || l.msg === "no introduction: no allowed user is a member of the room"), "the introduction decided");
    expect(introductions(hs, forSpaceMembers, botUserId)).toHaveLength(0);
  }, scaled(60_000));

  it("/new is capped per user (NEW_ROOMS_MAX_PER_USER)", async () => {
    s = await Scenario.start({ mode, env: { PROVISION_SPACE: "true", NEW_ROOMS_MAX_PER_USER: "2" } });
    const dm = await s.openDm();
    await waitProvisioned(s.hs, s.botUserId, s.alice.userId);
    for (const [i, title] of ["one", "two", "three"].entries()) {
      await s.alice.sendText(dm, `!new ${title}`);
      await s.waitBotMessages(dm, i + 1, `the answer to /new ${title}`);
    }
    const replies = s.botMessages(dm).map((e) => String(e.content["body"]));
    expect(replies[0]).toMatch(/^Created “one”/);
    expect(replies[1]).toMatch(/^Created “two”/);
    expect(replies[2]).toBe("You already have 2 rooms I created with /new, the most I make per person. Use one of them, or ask the operator to raise NEW_ROOMS_MAX_PER_USER.");
    expect(provisionedRooms(s.hs, s.alice.userId, "chat")).toHaveLength(3); // the first room of the space and two from /new
  }, scaled(60_000));
});
