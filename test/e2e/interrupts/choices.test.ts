// Choices and questions in the room: a choice (responseSchema enum) is an MSC3381 poll that matrix-js-sdk's own poll
// support reads as Element does, the asker's vote (stable or unstable form) answers it and the bot ends the poll; a
// later vote changes nothing. A question (string schema) takes the asker's next message as its answer, even one
// that looks like a command.
import { scaled } from "../../support/wait";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { ROOT } from "../../support/bot-harness";
import type { ClientEvent } from "../../support/homeserver/types";
import { Scenario } from "../../support/scenario";
import { closeScriptedAgents } from "../../support/scripted-agent";
import { dmWithPrompt, resumedAnswers, resumeRuns } from "./support";

jest.setTimeout(scaled(90_000));

const CHOICE = { id: "day", reason: "choose", message: "Which day?", responseSchema: { type: "string", enum: ["Monday", "Tuesday", "Friday"] } };
const QUESTION = { id: "subject", reason: "ask", message: "What subject?", responseSchema: { type: "string" } };

/** The events as matrix-js-sdk's PollStartEvent, PollResponseEvent and PollEndEvent read them. */
function readWithJsSdk(events: Array<Pick<ClientEvent, "type" | "content">>): Array<Record<string, unknown>> {
  const run = spawnSync(process.execPath, [path.join(ROOT, "test/support/js-sdk-poll.mjs")],
    { input: JSON.stringify(events.map((e) => ({ type: e.type, content: e.content }))), encoding: "utf8" });
  if (run.status !== 0) throw new Error(`js-sdk poll reader failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as Array<Record<string, unknown>>;
}

const ref = (eventId: string) => ({ "m.relates_to": { rel_type: "m.reference", event_id: eventId } });

describe("choices and questions answered in the room", () => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.stop();
    s = undefined;
    await closeScriptedAgents();
  });

  it("a poll for the choice, a message for the question; one resume with both answers", async () => {
    const world = await dmWithPrompt({}, [CHOICE, QUESTION], "✏️");
    const { agent, roomId } = world;
    const w = s = world.s;
    const poll = await w.hs.waitFor(() => w.hs.sent({ roomId, sender: w.botUserId, type: "org.matrix.msc3381.poll.start" })[0], { what: "the poll" });
    expect(readWithJsSdk([poll])).toEqual([{ question: "❓ Which day?", kind: "org.matrix.msc3381.poll.disclosed", maxSelections: 1,
      answers: [{ id: "o1", text: "Monday" }, { id: "o2", text: "Tuesday" }, { id: "o3", text: "Friday" }] }]);

    // The vote, in the stable form matrix-js-sdk sends; the poll is ended.
    const vote = { type: "m.poll.response", content: { ...ref(poll.event_id), "m.poll.response": { answers: ["o2"] } } };
    expect(readWithJsSdk([poll, vote])[1]).toEqual({ spoiled: false, answerIds: ["o2"] });
    await w.alice.send(roomId, vote.type, vote.content);
    const end = await w.hs.waitFor(() => w.hs.sent({ roomId, sender: w.botUserId, type: "org.matrix.msc3381.poll.end" })[0], { what: "the poll's end" });
    expect(readWithJsSdk([poll, end])[1]).toEqual({ ended: poll.event_id, text: "☑️ Tuesday (chosen by Alice)" });
    // A later vote (the unstable form) changes nothing.
    await w.alice.send(roomId, "org.matrix.msc3381.poll.response", { ...ref(poll.event_id), "org.matrix.msc3381.poll.response": { answers: ["o1"] } });
    await w.expectSteady(() => expect(resumeRuns(agent)).toHaveLength(0));

    // The asker's next message answers the question, even one that looks like a command.
    await w.alice.sendText(roomId, "!help");
    await w.hs.waitFor(() => resumedAnswers(w, roomId).length === 1, { what: "the resumed run's answer" });
    expect(resumedAnswers(w, roomId)[0]).toBe('resumed: [{"interruptId":"day","status":"resolved","payload":"Tuesday"},'
      + '{"interruptId":"subject","status":"resolved","payload":"!help"}]');
    await w.expectSteady(() => {
      expect(resumeRuns(agent)).toHaveLength(1);
      expect(w.hs.sent({ roomId, sender: w.botUserId, type: "org.matrix.msc3381.poll.end" })).toHaveLength(1);
      // No command reply: the help text never came.
      expect(w.botMessages(roomId).some((e) => String(e.content["body"]).includes("/help"))).toBe(false);
    });
  });
});
