// Redactions of questions, as people make them, against the homeserver double, checked on what a client shows: a
// question redacted while it waits is not answered; redacted while the agent answers it, the run is cancelled and
// what the bot had shown of the answer (its live message) is redacted; redacted after the answer, every message of
// the answer is redacted. A room moderator who is not an allowed user counts too (the bot keeps nothing of their
// other events).
import { isIntroduction } from "../../support/bot-messages";
import type { MatrixTestUser } from "../../support/matrix-test-user";
import { MODES, Scenario } from "../../support/scenario";
import { ANSWER, changesBrain, LONG_WORDS, type ChangesBrain } from "./changes-support";
import { isRedacted, mention, visibleBotMessages, waitBotSays } from "./support";
import { scaled } from "../../support/wait";

jest.setTimeout(scaled(60_000));

describe.each(MODES)("redactions of questions (%s mode)", (mode) => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.stop();
    s = undefined;
  });

  async function dm(): Promise<{ s: Scenario; room: string; agent: ChangesBrain }> {
    const agent = changesBrain();
    s = await Scenario.start({ mode, brain: agent.brain });
    const room = await s.openDm();
    return { s, room, agent };
  }

  const bodies = (sc: Scenario, room: string): string[] => visibleBotMessages(sc, room).map((m) => String(m.content["body"]));
  /** The bot's messages (originals, not edits) in the room, and whether the homeserver redacted each. */
  const botOriginals = (sc: Scenario, room: string): Array<{ id: string; redacted: boolean }> => sc.hs.timeline(room)
    .filter((e) => e.sender === sc.botUserId && e.type === "m.room.message" && !("m.new_content" in e.content) && !isIntroduction(e))
    .map((e) => ({ id: e.event_id, redacted: isRedacted(e) }));

  it("a question redacted while it waits is not answered", async () => {
    const { s, room, agent } = await dm();
    agent.hold("first");
    await s.alice.sendText(room, "first");
    await s.hs.waitFor(() => agent.runsWith("first")[0], { what: "the first run at the agent" });
    const second = await s.alice.sendText(room, "oops, not this");
    await s.alice.redact(room, second);
    // Dropped from the queue; or, when the bot's sync brought the message already redacted, never a question.
    await s.bot.logs.waitFor((l) => l["msg"] === "a queued message was redacted; it will not be answered"
      || (l["msg"] === "message not answered" && l["eventId"] === second), "the bot to drop it");
    agent.release();
    await waitBotSays(s, room, undefined, ANSWER("first"));
    await s.alice.sendText(room, "sentinel");
    await waitBotSays(s, room, undefined, ANSWER("sentinel"));
    expect(agent.runs.map((r) => r.contents)).toEqual([["first"], ["sentinel"]]);
  });

  it("a question redacted while it is answered: the run is cancelled and what was shown is redacted", async () => {
    const { s, room, agent } = await dm();
    agent.hold("doomed");
    const question = await s.alice.sendText(room, "doomed question");
    await s.hs.waitFor(() => (botOriginals(s!, room).length === 1 ? true : undefined), { what: "the live message of the answer" });
    await s.alice.redact(room, question);
    await s.hs.waitFor(() => agent.runsWith("doomed")[0]?.cancelled || undefined, { what: "the run cancelled" });
    await s.hs.waitFor(() => (botOriginals(s!, room).every((m) => m.redacted) ? true : undefined), { what: "the live message redacted" });
    await s.alice.sendText(room, "sentinel");
    await waitBotSays(s, room, undefined, ANSWER("sentinel"));
    expect(agent.runs.map((r) => r.contents)).toEqual([["doomed question"], ["sentinel"]]);
    expect(bodies(s, room)).toEqual([ANSWER("sentinel")]);
  });

  it("a question redacted after its answer: every message of the answer is redacted", async () => {
    const { s, room } = await dm();
    await s.alice.sendText(room, "kept");
    await waitBotSays(s, room, undefined, ANSWER("kept"));
    const question = await s.alice.sendText(room, "answer in 3 parts");
    await waitBotSays(s, room, undefined, "part 3");
    expect(bodies(s, room)).toEqual([ANSWER("kept"), ANSWER("answer in 3 parts"), "part 2", "part 3"]);
    await s.alice.redact(room, question);
    await s.hs.waitFor(() => (bodies(s!, room).length === 1 ? true : undefined), { what: "the three messages redacted" });
    expect(bodies(s, room)).toEqual([ANSWER("kept")]);
    expect(botOriginals(s, room).map((m) => m.redacted)).toEqual([false, true, true, true]);
  });

  it("a question whose answer was split over several events (too long for one): all of them are redacted", async () => {
    const { s, room } = await dm();
    const question = await s.alice.sendText(room, "a long answer please");
    const parts = await s.hs.waitFor(() => {
      const shown = visibleBotMessages(s!, room);
      return shown.length >= 2 && shown.map((m) => String(m.content["body"])).join("").includes(`word${LONG_WORDS - 1}`) ? shown : undefined;
    }, { what: "the long answer, in several messages", timeoutMs: 30_000 });
    await s.alice.redact(room, question);
    await s.hs.waitFor(() => (botOriginals(s!, room).every((m) => m.redacted) ? true : undefined), { what: "every part redacted" });
    expect(botOriginals(s, room).map((m) => m.id)).toEqual(parts.map((m) => m.event_id));
  });

  it("a room moderator who is not an allowed user redacts a question: it counts", async () => {
    const agent = changesBrain();
    s = await Scenario.start({ mode, brain: agent.brain, env: { ALLOWED_USERS: "@alice:localhost,@bob:localhost" } });
    const mod: MatrixTestUser = s.person("mod", "Moderator");
    const room = await s.openGroup(s.alice, [mod], {
      power_level_content_override: { users: { [s.alice.userId]: 100, [mod.userId]: 50 } },
    });
    const answered = await s.alice.sendText(room, "Agent Bot: spam?", mention(s, "spam?"));
    await waitBotSays(s, room, undefined, ANSWER("Agent Bot: spam?"));
    await mod.redact(room, answered, "spam");
    await s.hs.waitFor(() => (bodies(s!, room).length === 0 ? true : undefined), { what: "the answer redacted" });

    agent.hold("second");
    const inFlight = await s.alice.sendText(room, "Agent Bot: second spam", mention(s, "second spam"));
    await s.hs.waitFor(() => agent.runsWith("second")[0], { what: "the second run at the agent" });
    await mod.redact(room, inFlight, "spam");
    await s.hs.waitFor(() => agent.runsWith("second")[0]?.cancelled || undefined, { what: "the run cancelled" });
    await s.alice.sendText(room, "Agent Bot: sentinel", mention(s, "sentinel"));
    await waitBotSays(s, room, undefined, ANSWER("Agent Bot: sentinel"));
    expect(bodies(s, room)).toEqual([ANSWER("Agent Bot: sentinel")]);
    expect(agent.runs.map((r) => r.contents)).toEqual([["Agent Bot: spam?"], ["Agent Bot: second spam"], ["Agent Bot: sentinel"]]);
  });
});
