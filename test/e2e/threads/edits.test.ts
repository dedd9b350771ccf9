// Edits (m.replace) of questions, as people make them, against the homeserver double, checked on what a client shows
// (edits applied, redacted messages gone): an edit of a question still waiting replaces it in the run; an edit of the
// question being answered cancels the run and answers the new text in the same message; an edit of the last answered
// question within EDIT_REANSWER_MS answers again by editing the previous answer (several messages included: the
// ones the new answer does not need are redacted), and the agent is told which message the new text replaces; an
// edit in a thread is answered in the thread; edits of older questions, by someone else, or after the window are
// ignored.
import { replacedEventId } from "../../support/bot-messages";
import { MODES, Scenario } from "../../support/scenario";
import { ANSWER, changesBrain, edit, type ChangesBrain } from "./changes-support";
import { botBodiesIn, mention, replyOf, threadOf, visibleBotMessages, waitBotSays } from "./support";
import { scaled } from "../../support/wait";

jest.setTimeout(scaled(60_000));

describe.each(MODES)("edits of questions (%s mode)", (mode) => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.stop();
    s = undefined;
  });

  async function dm(env: Record<string, string> = {}): Promise<{ s: Scenario; room: string; agent: ChangesBrain }> {
    const agent = changesBrain();
    s = await Scenario.start({ mode, brain: agent.brain, env });
    const room = await s.openDm();
    return { s, room, agent };
  }

  /** Waits until the run that answered `eventId` is over (its "message handled" line), not only its text shown. */
  const runOver = async (sc: Scenario, eventId: string): Promise<void> => {
    await sc.bot.logs.waitFor((l) => l["msg"] === "message handled" && l["eventId"] === eventId, `the run answering ${eventId} over`);
  };
  const bodies = (sc: Scenario, room: string): string[] => visibleBotMessages(sc, room).map((m) => String(m.content["body"]));

  it("an edit of a question still waiting replaces it in the run", async () => {
    const { s, room, agent } = await dm();
    agent.hold("first");
    await s.alice.sendText(room, "first");
    await s.hs.waitFor(() => agent.runsWith("first")[0], { what: "the first run at the agent" });
    const second = await s.alice.sendText(room, "secnod question");
    await s.alice.sendText(room, "third");
    await edit(s.alice, room, second, "second question");
    await s.bot.logs.waitFor((l) => String(l["msg"]).startsWith("a question not yet answered was edited"), "the bot to take the edit in");
    agent.release();
    await waitBotSays(s, room, undefined, ANSWER("second question", "third"));
    expect(agent.runs.map((r) => r.contents)).toEqual([["first"], ["second question", "third"]]);
    expect(agent.runs[1]?.input.messages[0]).toMatchObject({ id: second, content: "second question" });
    expect(agent.runs[1]?.input.messages[0]?.replaces).toBeUndefined(); // never answered: nothing to replace
  });

  it("an edit of the question being answered cancels the run and answers the new text in the same message", async () => {
    const { s, room, agent } = await dm();
    agent.hold("helo");
    const question = await s.alice.sendText(room, "helo wrold");
    await s.hs.waitFor(() => agent.runsWith("helo")[0], { what: "the run at the agent" });
    await edit(s.alice, room, question, "hello world");
    await waitBotSays(s, room, undefined, ANSWER("hello world"));
    expect(agent.runsWith("helo")[0]?.cancelled).toBe(true);
    expect(agent.runs.map((r) => r.contents)).toEqual([["helo wrold"], ["hello world"]]);
    expect(agent.runs[1]?.input.messages[0]).toMatchObject({ content: "hello world", replaces: question }); // the agent drops the old one
    await s.hs.waitFor(() => (bodies(s!, room).length === 1 ? true : undefined), { what: "one answer in the room" });
    expect(bodies(s, room)).toEqual([ANSWER("hello world")]);
    // One message only: the live "working on" message of the cancelled run became the answer (nothing left live).
    expect(s.botEvents(room).filter((e) => replacedEventId(e.content) === undefined)).toHaveLength(1);
  });

  it("an edit of the last answered question answers again by editing the answer; the agent is told what it replaces", async () => {
    const { s, room, agent } = await dm();
    const question = await s.alice.sendText(room, "what is 2+2");
    const first = await waitBotSays(s, room, undefined, ANSWER("what is 2+2"));
    await runOver(s, question); // the run is over: the edit comes after the answer, not during it
    const editId = await edit(s.alice, room, question, "what is 3+3");
    const again = await waitBotSays(s, room, undefined, ANSWER("what is 3+3"));
    expect(again.event_id).toBe(first.event_id); // the same message, edited
    expect(bodies(s, room)).toEqual([ANSWER("what is 3+3")]);
    expect(agent.runs[1]?.input.messages).toEqual([expect.objectContaining({ id: editId, content: "what is 3+3", replaces: question })]);
  });

  it("an answer given again that needs fewer messages than before: the ones it does not need are redacted", async () => {
    const { s, room } = await dm();
    const question = await s.alice.sendText(room, "tell it in 3 parts");
    await waitBotSays(s, room, undefined, "part 3");
    await runOver(s, question);
    expect(bodies(s, room)).toEqual([ANSWER("tell it in 3 parts"), "part 2", "part 3"]);
    await edit(s.alice, room, question, "tell it in 1 parts");
    await waitBotSays(s, room, undefined, ANSWER("tell it in 1 parts"));
    await s.hs.waitFor(() => (bodies(s!, room).length === 1 ? true : undefined), { what: "the two extra messages redacted" });
    expect(bodies(s, room)).toEqual([ANSWER("tell it in 1 parts")]);
  });

  it("in a group thread the answer given again stays in the thread", async () => {
    const agent = changesBrain();
    s = await Scenario.start({ mode, brain: agent.brain });
    const bob = s.person("bob", "Bob");
    const room = await s.openGroup(s.alice, [bob]);
    const root = await s.alice.sendText(room, "trip planning");
    const question = await s.alice.sendThreadReply(room, root, "Agent Bot: when to go?", mention(s, "when to go?"));
    const first = await waitBotSays(s, room, root, ANSWER("Agent Bot: when to go?"));
    await runOver(s, question);
    await edit(s.alice, room, question, "Agent Bot: where to go?", { "m.mentions": { user_ids: [s.botUserId] } });
    const again = await waitBotSays(s, room, root, ANSWER("Agent Bot: where to go?"));
    expect(again.event_id).toBe(first.event_id);
    expect(threadOf(again)).toBe(root);
    expect(replyOf(again)).toBe(question); // it replies to the question as people see it (not to the edit)
    expect(botBodiesIn(s, room, root)).toEqual([ANSWER("Agent Bot: where to go?")]);
    expect(botBodiesIn(s, room, undefined)).toEqual([]);
  });

  it("in a group room a message edited so that it now addresses the bot is answered", async () => {
    const agent = changesBrain();
    s = await Scenario.start({ mode, brain: agent.brain });
    const bob = s.person("bob", "Bob");
    const room = await s.openGroup(s.alice, [bob]);
    const message = await s.alice.sendText(room, "is it going to rain?");
    await edit(s.alice, room, message, "Agent Bot: is it going to rain?", { "m.mentions": { user_ids: [s.botUserId] } });
    const answer = await waitBotSays(s, room, undefined, ANSWER("Agent Bot: is it going to rain?"));
    expect(replyOf(answer)).toBe(message);
    expect(agent.runs.map((r) => r.contents)).toEqual([["Agent Bot: is it going to rain?"]]);
  });

  it("ignores an edit of a question answered before the last one", async () => {
    const { s, room, agent } = await dm();
    const older = await s.alice.sendText(room, "older");
    await waitBotSays(s, room, undefined, ANSWER("older"));
    await s.alice.sendText(room, "last");
    await waitBotSays(s, room, undefined, ANSWER("last"));
    await edit(s.alice, room, older, "older, edited");
    await s.alice.sendText(room, "sentinel"); // same conversation: answered after anything the edit would cause
    await waitBotSays(s, room, undefined, ANSWER("sentinel"));
    expect(agent.runs.map((r) => r.contents)).toEqual([["older"], ["last"], ["sentinel"]]);
    expect(bodies(s, room)).toEqual([ANSWER("older"), ANSWER("last"), ANSWER("sentinel")]);
  });

  it("EDIT_REANSWER_MS=0: an edit of the last answered question is not answered again", async () => {
    const { s, room, agent } = await dm({ EDIT_REANSWER_MS: "0" });
    const last = await s.alice.sendText(room, "last");
    await waitBotSays(s, room, undefined, ANSWER("last"));
    await runOver(s, last);
    await edit(s.alice, room, last, "last, edited");
    await s.alice.sendText(room, "sentinel");
    await waitBotSays(s, room, undefined, ANSWER("sentinel"));
    expect(agent.runs.map((r) => r.contents)).toEqual([["last"], ["sentinel"]]);
    expect(bodies(s, room)).toEqual([ANSWER("last"), ANSWER("sentinel")]);
  });
});
