// Per-user provisioning (PROVISION_SPACE=true): the first invite from an allowed user gets them a private space
// with one chat room, both shared with them, and an introduction there; later invites only join.
import { MODES, Scenario } from "../../support/scenario";
import { introductions, provisionedRooms, spacesCreatedBy, waitProvisioned } from "./support";

describe.each(MODES)("%s mode", (mode) => {
  let s: Scenario;
  afterEach(async () => s?.stop());

  it("gives a new user a private space with one chat room on their first DM; a repeat invite only joins", async () => {
    s = await Scenario.start({ mode, env: { PROVISION_SPACE: "true", BOT_DISPLAY_NAME: "Helper" } });
    const { hs, alice, botUserId } = s;
    const dm = await s.openDm();
    const { spaceId, roomId } = await waitProvisioned(hs, botUserId, alice.userId);

    expect(hs.getState(spaceId, "m.room.create")?.content["type"]).toBe("m.space");
    expect(hs.getState(spaceId, "m.room.join_rules")?.content["join_rule"]).toBe("invite"); // private
    expect(hs.getState(spaceId, "m.space.child", roomId)?.content["via"]).toEqual(["localhost"]);
    expect(hs.getState(roomId, "m.space.parent", spaceId)?.content).toMatchObject({ via: ["localhost"], canonical: true });
    expect(hs.membership(spaceId, alice.userId)).toBe("invite");
    expect(hs.membership(roomId, alice.userId)).toBe("invite");
    const [welcome] = introductions(hs, roomId, botUserId);
    expect(String(welcome?.content["body"])).toContain("/new");
    expect(String(welcome?.content["body"])).toContain("Helper");

    // Alice accepts and talks there: the bot answers (a DM-like room of two).
    await alice.join(spaceId);
    await alice.join(roomId);
    await alice.sendText(roomId, "hello in my space");
    await s.waitBotMessages(roomId, 1);

    // Repeat invites (another DM, a group room) only join.
    const again = await s.openDm();
    await s.openGroup(alice);
    expect(again).not.toBe(dm);
    await s.expectSteady(() => {
      expect(provisionedRooms(hs, alice.userId, "space")).toHaveLength(1);
      expect(provisionedRooms(hs, alice.userId, "chat")).toHaveLength(1);
      expect(spacesCreatedBy(hs, botUserId)).toEqual([spaceId]);
      expect(introductions(hs, roomId, botUserId)).toHaveLength(1);
    });

    // Another user gets their own.
    const bob = s.person("bob", "Bob");
    await s.openDm(bob);
    const bobs = await waitProvisioned(hs, botUserId, bob.userId);
    expect(bobs.spaceId).not.toBe(spaceId);
    expect(hs.membership(bobs.spaceId, alice.userId)).toBeUndefined();
  });

  it("provisions nobody when PROVISION_SPACE is off (the default)", async () => {
    s = await Scenario.start({ mode });
    await s.openDm();
    await s.expectSteady(() => expect(spacesCreatedBy(s.hs, s.botUserId)).toEqual([]));
  });
});
