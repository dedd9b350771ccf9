// Who may bring the bot in (ALLOWED_USERS), its one-time introduction, and BOT_DISPLAY_NAME: in both modes,
// the real bot against the homeserver double.
import { echoReplyFor } from "../../../src/reference-agent/server";
import { MODES, Scenario } from "../../support/scenario";
import { introductions } from "./support";

describe.each(MODES)("%s mode", (mode) => {
  let s: Scenario;
  afterEach(async () => s?.stop());

  it("accepts DMs and room invites from allowed users only, and introduces itself once per room", async () => {
    s = await Scenario.start({ mode, env: { ALLOWED_USERS: "@alice:localhost", BOT_DISPLAY_NAME: "Helper" } });
    const mallory = s.person("mallory", "Mallory");

    // Disallowed: a DM and a group-room invite are both declined, and nothing is posted there.
    const { room_id: badDm } = await mallory.createRoom({ is_direct: true, invite: [s.botUserId], preset: "trusted_private_chat" });
    const { room_id: badGroup } = await mallory.createRoom({ preset: "private_chat", name: "Mallory's room", invite: [s.botUserId] });
    await s.hs.waitFor(() => s.hs.membership(badDm, s.botUserId) === "leave" && s.hs.membership(badGroup, s.botUserId) === "leave",
      { what: "both invites declined" });

    // Allowed: a DM and a group room; each gets one introduction, and the bot answers.
    const dm = await s.openDm();
    const group = await s.openGroup(s.alice, [mallory]);
    await s.waitIntroduced(group);
    const [intro] = introductions(s.hs, dm, s.botUserId);
    expect(intro?.content["msgtype"]).toBe("m.notice");
    const body = String(intro?.content["body"]);
    expect(body).toContain("Helper");
    expect(body).toContain("direct chat");
    expect(body).toContain("group room");
    expect(body).toContain("/help");
    expect(intro?.content["m.mentions"]).toEqual({});

    await s.alice.sendText(dm, "hi");
    await s.waitBotMessages(dm, 1);
    await mallory.sendText(group, "Helper: answer me");
    await s.alice.sendText(group, "Helper: and me?");
    const [answer] = await s.waitBotMessages(group, 1);
    expect(answer?.content["body"]).toBe(echoReplyFor("Helper: and me?"));

    // Once per room: not again after a restart, not in the declined rooms.
    await s.restartBot();
    await s.alice.sendText(dm, "still there?");
    await s.waitBotMessages(dm, 2);
    await s.expectSteady(() => {
      for (const roomId of [dm, group]) expect(introductions(s.hs, roomId, s.botUserId)).toHaveLength(1);
      for (const roomId of [badDm, badGroup]) expect(s.hs.sent({ roomId, sender: s.botUserId, type: "m.room.message" })).toHaveLength(0);
      expect(s.botMessages(group)).toHaveLength(1); // Mallory was ignored
    });
  });

  it("sets its display name from BOT_DISPLAY_NAME at start, and leaves it alone when it already matches", async () => {
    s = await Scenario.start({ mode, env: { BOT_DISPLAY_NAME: "Helper" } });
    const profile = await s.alice.call<{ displayname?: string }>("GET", `profile/${encodeURIComponent(s.botUserId)}/displayname`);
    expect(profile.displayname).toBe("Helper");
    await s.restartBot();
    const puts = s.hs.requests.filter((r) => r.method === "PUT" && r.path.endsWith("/displayname") && r.userId === s.botUserId);
    expect(puts).toHaveLength(1);
  });
});
