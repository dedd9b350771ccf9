// Issue 14, finding 3: a DM is a room with exactly one joined person (an allowed user) besides the bot; an invite
// flagged `is_direct` into a group room grants nothing: settings commands still need the power level, and the bot
// still answers only when addressed. `/reset` needs the settings permission.
import { recordingBrain, say } from "../../support/brains";
import { MODES, Scenario } from "../../support/scenario";

describe.each(MODES)("%s mode", (mode) => {
  let s: Scenario;
  afterEach(async () => s?.stop());

  it("an is_direct invite into a group room does not make it a DM: settings and /reset refused at power 0", async () => {
    const { brain, seen } = recordingBrain((run, out) => say(out, `ok: ${run.contents.join(" ")}`));
    s = await Scenario.start({ mode, brain });
    const bob = s.person("bob", "Bob");
    const { room_id: group } = await s.alice.createRoom({ preset: "private_chat", name: "Group" });
    await s.alice.invite(group, bob.userId);
    await bob.join(group);
    s.hs.invite(s.alice.userId, group, s.botUserId, { isDirect: true });
    await s.waitJoined(group);
    await s.waitIntroduced(group);

    for (const command of ["!proactive on", "!mode all", "!reset"]) {
      const before = s.botMessages(group).length;
      await bob.sendText(group, command);
      const [reply] = (await s.waitBotMessages(group, before + 1, `the answer to ${command}`)).slice(before);
      expect(reply?.content["body"]).toMatch(/^Sorry, changing this room's settings needs power level 50 here/);
    }
    const before = s.botMessages(group).length;
    await bob.sendText(group, "!proactive");
    const [shown] = (await s.waitBotMessages(group, before + 1, "the /proactive answer")).slice(before);
    expect(shown?.content["body"]).toContain("Proactive messages are off in this room.");

    // Not addressed: a group room is not answered (a DM would be).
    await bob.sendText(group, "just talking among ourselves");
    await s.alice.sendText(group, `${s.botUserId}: are you there?`);
    await s.hs.waitFor(() => seen.length >= 1, { what: "the addressed message reaches the agent" });
    await s.expectSteady(() => expect(seen.flatMap((r) => r.contents)).toEqual([`${s.botUserId}: are you there?`]));
  });

  it("in a real DM the one person there may change settings and /reset", async () => {
    s = await Scenario.start({ mode });
    const dm = await s.openDm();
    await s.alice.sendText(dm, "!reset");
    const [reply] = await s.waitBotMessages(dm, 1, "the /reset answer");
    expect(reply?.content["body"]).toMatch(/^Done: your next message starts a fresh conversation/);
  });
});
