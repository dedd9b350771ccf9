// SIGKILL while an answer is being written live (the built bot as a child process, killed at its first accepted
// live edit), then a restart on the same data: no message is left live and no text is lost. When the agent
// answers the turn again, the same message gets the whole answer; when it cannot, the message keeps the text it
// showed before the crash and says "(interrupted)".
import { FAILURE_TEXTS } from "../../../src/turns/failure-text";
import { foldEdits, replacedEventId } from "../../support/bot-messages";
import { CrashWorld } from "../../support/crash-world";
import { MatrixTestUser } from "../../support/matrix-test-user";
import { closeScriptedAgents } from "../../support/scripted-agent";
import { scaled } from "../../support/wait";
import { answered, botEvents, expectStreamedAnswer, isInterruptedEdit, LIVE_TEST_ENV, longAnswer, startStreamingAgent } from "./support";

jest.setTimeout(scaled(90_000));

describe("SIGKILL while an answer is written live, then a restart", () => {
  const world = CrashWorld.use();
  afterEach(() => closeScriptedAgents());

  async function crashMidStream(answers: (run: number) => string | { error: string }) {
    const { hs } = world;
    const holder: { botUserId: string } = { botUserId: "" };
    const agent = await startStreamingAgent({ protocol: 2, hs, get botUserId() { return holder.botUserId; }, answer: answers });
    const { env, botUserId } = await world.setUp("client", { AGENT_URL: agent.url, ...LIVE_TEST_ENV });
    holder.botUserId = botUserId;
    const first = await world.startBot({ ...env, MAB_TEST_CRASH_AT: "live-edit-accepted" });
    const alice = new MatrixTestUser(hs.url, hs.addUser("alice", { displayName: "Alice" }));
    const { room_id: roomId } = await alice.createRoom({ is_direct: true, invite: [botUserId], preset: "trusted_private_chat" });
    await hs.waitFor(() => hs.membership(roomId, botUserId) === "join", { what: "the bot joins" });
    await alice.sendText(roomId, "write me something long");
    expect(await first.exited).toEqual({ code: null, signal: "SIGKILL" });
    const shownBeforeCrash = foldEdits(botEvents(hs, roomId, botUserId));
    expect(shownBeforeCrash.some((m) => m.live)).toBe(true); // killed mid-stream: a live message is there
    const second = await world.startBot(env);
    /** "Exactly once" on the restarted bot: checked once it settled, and again after a short extra window. */
    const expectSteady = (check: () => void): Promise<void> => world.expectSteady(second, { syncUserId: botUserId }, check);
    return { hs, roomId, botUserId, shownBeforeCrash, expectSteady };
  }

  it("the turn runs again: the same message gets the whole answer, nothing stays live", async () => {
    const answer = longAnswer(1_200);
    const { hs, roomId, botUserId, shownBeforeCrash, expectSteady } = await crashMidStream(() => answer);
    await hs.waitFor(() => answered(hs, roomId, botUserId, answer), { what: "the whole answer after the restart", timeoutMs: 60_000 });
    await expectSteady(() => { // no stray edit and no duplicate, even late
      const events = botEvents(hs, roomId, botUserId);
      // The recovery may have marked the message interrupted before the turn ran again: then the turn wrote on.
      const msgs = expectStreamedAnswer(events.filter((e) => !isInterruptedEdit(e)), answer);
      expect(msgs[0]?.event_id).toBe(shownBeforeCrash[0]?.event_id); // the message shown before the crash, continued
      expect(foldEdits(events).every((m) => !m.live)).toBe(true);
    });
  });

  it("the turn cannot be answered again: the message keeps its last text with \"(interrupted)\", then the failure", async () => {
    const answer = longAnswer(1_200);
    const { hs, roomId, botUserId, shownBeforeCrash, expectSteady } = await crashMidStream((run) => (run === 0 ? answer : { error: "model gone" }));
    const [live] = shownBeforeCrash;
    const lastShown = String(live?.content["body"]);
    await hs.waitFor(() => foldEdits(botEvents(hs, roomId, botUserId)).length >= 2, { what: "the failure reply", timeoutMs: 30_000 });
    await hs.waitFor(() => foldEdits(botEvents(hs, roomId, botUserId)).every((m) => !m.live), { what: "nothing live" });
    await expectSteady(() => {
      const msgs = foldEdits(botEvents(hs, roomId, botUserId));
      expect(msgs.map((m) => [m.event_id, m.content["body"]])).toEqual([
        [live?.event_id, `${lastShown}\n\n(interrupted)`],
        [expect.any(String), FAILURE_TEXTS.agent_internal],
      ]);
      const interruptedEdits = botEvents(hs, roomId, botUserId).filter((e) => replacedEventId(e.content) === live?.event_id
        && String((e.content["m.new_content"] as Record<string, unknown>)["body"]).endsWith("(interrupted)"));
      expect(interruptedEdits).toHaveLength(1);
    });
  });
});
