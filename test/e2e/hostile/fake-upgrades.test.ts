// Issue 14, finding 2: a room upgrade is followed only when it is real. A tombstone from a room admin who is not an
// allowed user moves nothing and merges nothing (pointed at an allowed user's DM, that DM keeps its own
// conversation); an allowed admin's tombstone naming a live conversation is refused; one naming a room whose
// m.room.create does not name this room as predecessor is joined, checked and left; a true upgrade by an allowed
// admin is still followed.
import { recordingBrain, say } from "../../support/brains";
import { optInDirectly } from "../../support/fanout-world";
import { MODES, Scenario } from "../../support/scenario";

function mention(s: Scenario, text: string): string {
  return `${s.botUserId.slice(1).split(":")[0] ?? ""}: ${text}`;
}

/** Sends a message and waits for the bot's answer to it (every earlier event of that room was handled by then). */
async function ask(s: Scenario, roomId: string, text: string, from = s.alice): Promise<void> {
  const before = s.botMessages(roomId).length;
  await from.sendText(roomId, text);
  await s.waitBotMessages(roomId, before + 1, `the answer to "${text}"`);
}

/** What `/proactive` says about a room. */
async function proactiveShown(s: Scenario, roomId: string): Promise<"on" | "off"> {
  const before = s.botMessages(roomId).length;
  await s.alice.sendText(roomId, "!proactive");
  const messages = await s.waitBotMessages(roomId, before + 1, "the /proactive answer");
  return String(messages[before]?.content["body"]).includes("are on") ? "on" : "off";
}

describe.each(MODES)("%s mode", (mode) => {
  let s: Scenario;
  afterEach(async () => s?.stop());

  it("ignores a tombstone from an admin who is not an allowed user: no join, no move, no merge with a DM", async () => {
    const { brain, seen } = recordingBrain((run, out) => say(out, `ok: ${run.contents.join(" ")}`));
    s = await Scenario.start({ mode, brain, env: { ALLOWED_USERS: "@alice:localhost" } });
    const mallory = s.person("mallory", "Mallory");
    const group = await s.openGroup(s.alice, [mallory], { preset: "public_chat" });
    s.hs.setState(s.alice.userId, group, "m.room.power_levels", "", {
      users: { [s.alice.userId]: 100, [mallory.userId]: 100 }, users_default: 0, state_default: 50, events_default: 0,
    });
    const dm = await s.openDm();
    await s.stopBot();
    await optInDirectly(s.dataDir, [group]);
    await s.startBot();
    await ask(s, dm, "my bank PIN is 4711");
    const dmThread = seen.at(-1)?.info.threadId;

    // Mallory "upgrades" the group to Alice's DM, then to a room of her own.
    await mallory.sendState(group, "m.room.tombstone", "", { body: "moved", replacement_room: dm });
    await ask(s, group, mention(s, "after the first tombstone"));
    const { room_id: trap } = await mallory.createRoom({ preset: "public_chat", name: "trap" });
    await mallory.sendState(group, "m.room.tombstone", "", { body: "moved", replacement_room: trap });
    await ask(s, group, mention(s, "after the second tombstone"));
    const groupThread = seen.at(-1)?.info.threadId;

    await ask(s, dm, "what did I tell you?");
    expect(seen.at(-1)?.info.threadId).toBe(dmThread); // the DM keeps its own conversation
    expect(groupThread).not.toBe(dmThread);
    await s.expectSteady(() => expect(s.hs.membership(trap, s.botUserId)).toBeUndefined()); // never joined
    expect(await proactiveShown(s, group)).toBe("on"); // the opt-in stayed
    expect(await proactiveShown(s, dm)).toBe("off");
    await s.bot.logs.waitFor((l) => l.msg === "room upgrade ignored: the tombstone's sender is not an allowed user" && l["roomId"] === group,
      "the ignored tombstone is logged");
  });

  it("an allowed admin's tombstone naming a live conversation or a room that does not replace this one moves nothing", async () => {
    const { brain, seen } = recordingBrain((run, out) => say(out, `ok: ${run.contents.join(" ")}`));
    s = await Scenario.start({ mode, brain, env: { ALLOWED_USERS: "@alice:localhost" } });
    const group = await s.openGroup(s.alice, [], { preset: "public_chat" });
    const dm = await s.openDm();
    await s.stopBot();
    await optInDirectly(s.dataDir, [group]);
    await s.startBot();
    await ask(s, dm, "a secret for the DM only");
    const dmThread = seen.at(-1)?.info.threadId;

    await s.alice.sendState(group, "m.room.tombstone", "", { body: "moved", replacement_room: dm });
    await ask(s, group, mention(s, "still here"));
    await ask(s, dm, "and now?");
    expect(seen.at(-1)?.info.threadId).toBe(dmThread); // not merged into the group's conversation

    const { room_id: fake } = await s.alice.createRoom({ preset: "public_chat", name: "not an upgrade" });
    await s.alice.sendState(group, "m.room.tombstone", "", { body: "moved", replacement_room: fake });
    await s.hs.waitFor(() => s.hs.membership(fake, s.botUserId) === "leave", { what: "the bot leaves the fake replacement" });
    await s.bot.logs.waitFor((l) => l.msg === "room upgrade not followed: the replacement room does not name this room as its predecessor",
      "the mismatch is logged");
    expect(await proactiveShown(s, group)).toBe("on");
    expect(await proactiveShown(s, dm)).toBe("off");
  });

  it("a true upgrade by an allowed admin is still followed: same conversation, the opt-in moves", async () => {
    const { brain, seen } = recordingBrain((run, out) => say(out, `ok: ${run.contents.join(" ")}`));
    s = await Scenario.start({ mode, brain, env: { ALLOWED_USERS: "@alice:localhost" } });
    const oldRoom = await s.openGroup(s.alice, [], { preset: "public_chat" });
    await s.stopBot();
    await optInDirectly(s.dataDir, [oldRoom]);
    await s.startBot();
    await ask(s, oldRoom, mention(s, "before the upgrade"));

    const newRoom = s.hs.upgradeRoom(s.alice.userId, oldRoom, "10");
    await s.waitJoined(newRoom);
    await ask(s, newRoom, mention(s, "after the upgrade"));
    expect(seen).toHaveLength(2);
    expect(seen[1]?.info.threadId).toBe(seen[0]?.info.threadId);
    expect(await proactiveShown(s, newRoom)).toBe("on");
  });

  it("an upgrade to an invite-only replacement is completed when the bot is invited there", async () => {
    const { brain, seen } = recordingBrain((run, out) => say(out, `ok: ${run.contents.join(" ")}`));
    s = await Scenario.start({ mode, brain, env: { ALLOWED_USERS: "@alice:localhost" } });
    const oldRoom = await s.openGroup(s.alice);
    await ask(s, oldRoom, mention(s, "before the upgrade"));
    const newRoom = s.hs.upgradeRoom(s.alice.userId, oldRoom, "10");
    await s.bot.logs.waitFor((l) => String(l.msg).startsWith("could not join the replacement room") && l["newRoomId"] === newRoom,
      "the join refused (invite only)");
    await s.alice.invite(newRoom, s.botUserId);
    await s.waitJoined(newRoom);
    await ask(s, newRoom, mention(s, "after the upgrade"));
    expect(seen.map((r) => r.info.threadId)).toEqual([seen[0]?.info.threadId, seen[0]?.info.threadId]);
  });
});
