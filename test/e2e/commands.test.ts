// Commands as a person types them: the three forms, who may change settings (v12 creators included),
// /stop cancelling the running turn, /reset giving the agent a fresh thread. Commands never reach the agent.
import type { AgentBrain } from "../../src/reference-agent/brain";
import { FAILURE_TEXTS } from "../../src/turns/failure-text";
import { MODES, Scenario } from "../support/scenario";

async function lastReply(s: Scenario, roomId: string, count: number): Promise<string> {
  const msgs = await s.waitBotMessages(roomId, count, `reply #${count}`);
  return String(msgs[count - 1]?.content["body"]);
}

describe.each(MODES)("commands in %s mode", (mode) => {
  let s: Scenario;
  afterEach(async () => s?.stop());

  it("accepts /help, !help and @bot help, and never sends them to the agent", async () => {
    const seen: string[] = [];
    const brain: AgentBrain = { async run(input, out) {
      seen.push(...input.messages.map((m) => m.content));
      const id = out.startMessage(); out.delta(id, "agent answer"); out.endMessage(id);
    } };
    s = await Scenario.start({ mode, brain });
    const dm = await s.openDm();
    await s.alice.sendText(dm, "/help");
    expect(await lastReply(s, dm, 1)).toMatch(/\/proactive/);
    await s.alice.sendText(dm, "!HELP");
    expect(await lastReply(s, dm, 2)).toMatch(/\/proactive/);
    const group = await s.openGroup(s.alice);
    await s.alice.sendText(group, "Agent Bot help", {
      format: "org.matrix.custom.html", formatted_body: `<a href="https://matrix.to/#/${s.botUserId}">Agent Bot</a> help`,
      "m.mentions": { user_ids: [s.botUserId] },
    });
    expect(await lastReply(s, group, 1)).toMatch(/\/proactive/);
    await s.alice.sendText(dm, "/proactiveXYZ");
    expect(await lastReply(s, dm, 3)).toMatch(/Unknown command/);
    await s.expectSteady(() => expect(seen).toEqual([])); // no command ever reached the agent
  });

  it("lets only room moderators, v12 creators and BOT_ADMINS change settings in a group room", async () => {
    s = await Scenario.start({ mode, env: { BOT_ADMINS: "@carol:localhost" } });
    const bob = s.person("bob", "Bob");
    const carol = s.person("carol", "Carol");
    const room = await s.openGroup(s.alice, [bob, carol], { room_version: "12" });
    expect(room).not.toContain(":"); // a v12 room id has no server part
    const levels = s.hs.getState(room, "m.room.power_levels")?.content as { users?: Record<string, number> } | undefined;
    expect(levels?.users?.[s.alice.userId]).toBeUndefined(); // the creator is not listed: only v12 rules allow her

    await bob.sendText(room, "!proactive on");
    expect(await lastReply(s, room, 1)).toMatch(/power level|permission|allowed/i);
    await s.alice.sendText(room, "!proactive on"); // the v12 creator: not in power_levels.users, outranks everyone
    expect(await lastReply(s, room, 2)).toMatch(/on/i);
    await carol.sendText(room, "!mode all");
    expect(await lastReply(s, room, 3)).toMatch(/all/);
    await bob.sendText(room, "!proactive");
    expect(await lastReply(s, room, 4)).toMatch(/on/i); // showing the state is open to anyone
  });

  it("/stop cancels the running turn and says so", async () => {
    let aborted = false;
    const brain: AgentBrain = { async run(_input, _out, signal) {
      await new Promise<void>((resolve) => signal.addEventListener("abort", () => { aborted = true; resolve(); }, { once: true }));
      throw new Error("aborted");
    } };
    s = await Scenario.start({ mode, brain });
    const dm = await s.openDm();
    await s.alice.sendText(dm, "write me a very long essay");
    await s.hs.waitFor(() => s.hs.typing.some((t) => t.roomId === dm && t.typing), { what: "the turn is running" });
    await s.alice.sendText(dm, "!stop");
    const bodies = await s.hs.waitFor(() => {
      const b = s.botMessages(dm).map((e) => String(e.content["body"]));
      return b.includes(FAILURE_TEXTS.cancelled) && b.length >= 2 ? b : undefined;
    }, { what: "the stop confirmation and the stopped turn" });
    expect(bodies.some((b) => /stop/i.test(b) && b !== FAILURE_TEXTS.cancelled)).toBe(true);
    expect(aborted).toBe(true);
  });

  it("/reset starts a fresh agent thread for the room", async () => {
    const threads: string[] = [];
    const brain: AgentBrain = { async run(_input, out, _signal, info) {
      threads.push(info.threadId);
      const id = out.startMessage(); out.delta(id, "ok"); out.endMessage(id);
    } };
    s = await Scenario.start({ mode, brain });
    const dm = await s.openDm();
    await s.alice.sendText(dm, "remember this");
    await s.waitBotMessages(dm, 1);
    await s.alice.sendText(dm, "!reset");
    await s.waitBotMessages(dm, 2);
    await s.alice.sendText(dm, "what did I say?");
    await s.waitBotMessages(dm, 3);
    expect(threads).toHaveLength(2);
    expect(threads[0]).not.toBe(threads[1]);
  });
});
