// Matrix threads as people use them, against the homeserver double: in a group room a command sent in a thread is
// answered in that thread; a question asked in a thread is answered there, and a later message in that thread needs
// no mention (/threads follow, the default), also after a restart; a thread started from the bot's own answer is
// followed; /threads mention turns following off; threads the bot was never asked in are left alone. Every check is
// made on what a client shows (edits applied, the m.thread relation of each message). Failures and notices stay in the
// thread too.
import { AgentRunError } from "../../../src/reference-agent/brain";
import { FAILURE_TEXTS } from "../../../src/turns/failure-text";
import type { MatrixTestUser } from "../../support/matrix-test-user";
import { MODES, Scenario } from "../../support/scenario";
import { botBodiesIn, ECHO, mention, replyOf, threadOf, waitBotSays } from "./support";
import { scaled } from "../../support/wait";

jest.setTimeout(scaled(60_000));

describe.each(MODES)("threads in a group room (%s mode)", (mode) => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.stop();
    s = undefined;
  });

  async function groupRoom(): Promise<{ s: Scenario; room: string; bob: MatrixTestUser }> {
    s = await Scenario.start({ mode });
    const bob = s.person("bob", "Bob");
    const room = await s.openGroup(s.alice, [bob]); // two people: a group room, not a DM
    return { s, room, bob };
  }

  it("answers a command sent in a thread in that thread, and follows a thread it was asked in", async () => {
    const { s, room, bob } = await groupRoom();
    const root = await s.alice.sendText(room, "Let's plan the trip"); // not for the bot
    const command = await s.alice.sendThreadReply(room, root, "!threads");
    const reply = await waitBotSays(s, room, root, /^Threads here: follow/);
    expect(replyOf(reply)).toBe(command);
    expect(reply.content["m.relates_to"]).toMatchObject({ rel_type: "m.thread", event_id: root, is_falling_back: true });
    expect(reply.content["msgtype"]).toBe("m.notice");

    // A command is not a question: the thread is not followed yet. The unaddressed message stays unanswered; the
    // question after it (same thread, so answered after anything the first one would have caused) shows that.
    await s.alice.sendThreadReply(room, root, "not for the bot yet");
    await s.alice.sendThreadReply(room, root, "where to?", mention(s, "where to?"));
    await waitBotSays(s, room, root, ECHO("Agent Bot: where to?"));
    const followUp = await s.alice.sendThreadReply(room, root, "and when?"); // no mention: the thread is followed
    const answer = await waitBotSays(s, room, root, ECHO("and when?"));
    expect(answer.content["m.relates_to"]).toMatchObject({ rel_type: "m.thread", event_id: root, "m.in_reply_to": { event_id: followUp } });

    await bob.sendThreadReply(room, root, "and who pays?"); // anyone allowed, in the followed thread
    await waitBotSays(s, room, root, ECHO("and who pays?"));
    expect(botBodiesIn(s, room, root)).toEqual([
      expect.stringMatching(/^Threads here: follow/), ECHO("Agent Bot: where to?"), ECHO("and when?"), ECHO("and who pays?"),
    ]);
    expect(botBodiesIn(s, room, undefined)).toEqual([]); // nothing landed in the main timeline
  });

  it("leaves threads it was not asked in alone, and stops following with /threads mention", async () => {
    const { s, room } = await groupRoom();
    const followed = await s.alice.sendText(room, "Agent Bot: first question", mention(s, "first question"));
    await waitBotSays(s, room, undefined, ECHO("Agent Bot: first question"));
    await s.alice.sendThreadReply(room, followed, "Agent Bot: in the thread", mention(s, "in the thread"));
    await waitBotSays(s, room, followed, ECHO("Agent Bot: in the thread"));

    const other = await s.alice.sendText(room, "a thread among people");
    await s.alice.sendThreadReply(room, other, "people talking");
    await s.alice.sendThreadReply(room, other, "sentinel", mention(s, "sentinel")); // same thread: answered after
    await waitBotSays(s, room, other, ECHO("Agent Bot: sentinel"));
    expect(botBodiesIn(s, room, other)).toEqual([ECHO("Agent Bot: sentinel")]);

    await s.alice.sendText(room, "!threads mention");
    await waitBotSays(s, room, undefined, /^Threads set to mention/);
    await s.alice.sendThreadReply(room, followed, "no mention now");
    await s.alice.sendThreadReply(room, followed, "second sentinel", mention(s, "second sentinel"));
    await waitBotSays(s, room, followed, ECHO("Agent Bot: second sentinel"));
    expect(botBodiesIn(s, room, followed)).toEqual([ECHO("Agent Bot: in the thread"), ECHO("Agent Bot: second sentinel")]);
  });

  it("follows a thread started from its own answer, and still follows threads after a restart", async () => {
    const { s, room } = await groupRoom();
    await s.alice.sendText(room, "Agent Bot: hello", mention(s, "hello"));
    const answer = await waitBotSays(s, room, undefined, ECHO("Agent Bot: hello"));
    await s.alice.sendThreadReply(room, answer.event_id, "tell me more"); // Element's "reply in thread" on the answer
    await waitBotSays(s, room, answer.event_id, ECHO("tell me more"));

    const asked = await s.alice.sendText(room, "Agent Bot: another", mention(s, "another"));
    await waitBotSays(s, room, undefined, ECHO("Agent Bot: another"));
    await s.alice.sendThreadReply(room, asked, "Agent Bot: in its thread", mention(s, "in its thread"));
    await waitBotSays(s, room, asked, ECHO("Agent Bot: in its thread"));
    await s.restartBot();
    await s.alice.sendThreadReply(room, asked, "after the restart");
    await waitBotSays(s, room, asked, ECHO("after the restart"));
    expect(botBodiesIn(s, room, asked)).toEqual([ECHO("Agent Bot: in its thread"), ECHO("after the restart")]);
  });

  it("tells of a failure in the thread the question was asked in", async () => {
    s = await Scenario.start({ mode, brain: { run: async () => {
      throw new AgentRunError("upstream_unavailable", "the model is down");
    } } });
    const bob = s.person("bob", "Bob");
    const room = await s.openGroup(s.alice, [bob]);
    const root = await s.alice.sendText(room, "trip planning");
    const question = await s.alice.sendThreadReply(room, root, "Agent Bot: when?", mention(s, "when?"));
    const notice = await waitBotSays(s, room, root, FAILURE_TEXTS.agent_upstream_unavailable);
    expect(replyOf(notice)).toBe(question);
    expect(botBodiesIn(s, room, undefined)).toEqual([]);
  });

  it("tells about a message it cannot read in the thread it was sent in", async () => {
    const { s, room } = await groupRoom();
    const root = await s.alice.sendText(room, "Agent Bot: where are you?", mention(s, "where are you?"));
    await waitBotSays(s, room, undefined, ECHO("Agent Bot: where are you?"));
    const location = await s.alice.send(room, "m.room.message", {
      msgtype: "m.location", body: "Agent Bot: here", geo_uri: "geo:52.52,13.40", "m.mentions": { user_ids: [s.botUserId] },
      "m.relates_to": { rel_type: "m.thread", event_id: root, is_falling_back: true, "m.in_reply_to": { event_id: root } },
    });
    const notice = await waitBotSays(s, room, root, /can.t read this kind of message/);
    expect(replyOf(notice)).toBe(location);
    expect(threadOf(notice)).toBe(root);
  });
});
