// `/new [title]` typed by a person: a new chat room in their private space, its own conversation.
import { Scenario } from "../../support/scenario";
import { provisionedRooms, waitProvisioned } from "./support";

describe("/new", () => {
  let s: Scenario;
  afterEach(async () => s?.stop());

  it("adds a chat room with the title to the sender's space and invites them; the room has its own thread", async () => {
    const threads: string[] = [];
    s = await Scenario.start({ mode: "client", env: { PROVISION_SPACE: "true" }, brain: { async run(_i, out, _s, info) {
      threads.push(info.threadId);
      const id = out.startMessage(); out.delta(id, "ok"); out.endMessage(id);
    } } });
    const dm = await s.openDm();
    const { spaceId, roomId: first } = await waitProvisioned(s.hs, s.botUserId, s.alice.userId);
    await s.alice.sendText(dm, "!new Trip planning");
    const [reply] = await s.waitBotMessages(dm, 1);
    expect(String(reply?.content["body"])).toMatch(/Trip planning/);
    const chats = await s.hs.waitFor(() => {
      const rooms = provisionedRooms(s.hs, s.alice.userId, "chat");
      return rooms.length === 2 ? rooms : undefined;
    }, { what: "a second chat room" });
    const created = chats.find((r) => r !== first) ?? "";
    expect(s.hs.getState(created, "m.room.name")?.content["name"]).toBe("Trip planning");
    expect(s.hs.getState(spaceId, "m.space.child", created)?.content["via"]).toBeDefined();
    expect(s.hs.membership(created, s.alice.userId)).toBe("invite");

    await s.alice.join(created);
    await s.alice.sendText(created, "first message here");
    await s.waitBotMessages(created, 1);
    await s.alice.sendText(dm, "and one in the DM");
    await s.waitBotMessages(dm, 2);
    expect(new Set(threads).size).toBe(2);
  });

  it("says personal spaces are off when PROVISION_SPACE is not set", async () => {
    s = await Scenario.start({ mode: "client" });
    const dm = await s.openDm();
    await s.alice.sendText(dm, "/new");
    const [reply] = await s.waitBotMessages(dm, 1);
    expect(String(reply?.content["body"])).toMatch(/PROVISION_SPACE/);
  });
});
