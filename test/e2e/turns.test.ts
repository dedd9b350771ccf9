// The turn experience as a user sees it in the room (client mode; nothing here depends on the mode): streamed
// answers, batching, the queue bound, the placeholder, typing, and the Matrix shape of an answer.
import { FAILURE_TEXTS } from "../../src/turns/failure-text";
import { AgentRunError } from "../../src/reference-agent/brain";
import { gatedBrain, pause, recordingBrain, say } from "../support/brains";
import type { ClientEvent } from "../support/homeserver/types";
import { expectSteady } from "../support/bot-idle";
import { scaled, waitFor } from "../support/wait";
import { Scenario } from "../support/scenario";

const bodies = (events: ClientEvent[]): unknown[] => events.map((e) => e.content["body"]);

describe("turns", () => {
  let s: Scenario;
  afterEach(async () => s?.stop());

  it("assembles a streamed answer into one message", async () => {
    const { brain } = recordingBrain(async (_run, out) => {
      const id = out.startMessage();
      for (const chunk of ["The ", "answer ", "comes ", "in ", "pieces."]) {
        out.delta(id, chunk);
        await pause(5);
      }
      out.endMessage(id);
    });
    s = await Scenario.start({ mode: "client", brain });
    const roomId = await s.openDm();
    const asked = await s.alice.sendText(roomId, "stream please");
    const [answer] = await s.waitBotMessages(roomId, 1);
    await s.expectSteady(() => expect(bodies(s.botMessages(roomId))).toEqual(["The answer comes in pieces."]));
    expect(answer?.content["msgtype"]).toBe("m.text");
    // Picked up: a read receipt on the message (sent when the turn starts, on its own).
    await s.hs.waitFor(() => s.hs.receipts.some((r) => r.roomId === roomId && r.userId === s.botUserId && r.eventId === asked),
      { what: "the read receipt on the message" });
  });

  it("answers three messages sent during one run as ONE next run that sees all three", async () => {
    const { brain, seen, release } = gatedBrain();
    s = await Scenario.start({ mode: "client", brain });
    const roomId = await s.openDm();
    await s.alice.sendText(roomId, "first");
    await s.hs.waitFor(() => seen.length === 1, { what: "the first run started" });
    await s.alice.sendText(roomId, "one");
    await s.alice.sendText(roomId, "two");
    const last = await s.alice.sendText(roomId, "three");
    await s.routed((work) => work["turns"] === 4); // the first run still going, the three queued behind it
    release();
    await s.waitBotMessages(roomId, 2);
    await s.expectSteady(() => expect(bodies(s.botMessages(roomId))).toEqual(["answered: first", "answered: one + two + three"]));
    expect(seen).toHaveLength(2);
    expect(seen[1]?.contents).toEqual(["one", "two", "three"]);
    expect(seen[1]?.info.runId).toBe(last);
    expect(seen[1]?.input.messages.every((m) => m.sender === s.alice.userId && m.senderName === "Alice")).toBe(true);
  });

  it("tells the user when the thread's queue is full, and answers what was queued", async () => {
    const { brain, seen, release } = gatedBrain();
    s = await Scenario.start({ mode: "client", brain, env: { TURN_QUEUE_LIMIT: "2" } });
    const roomId = await s.openDm();
    await s.alice.sendText(roomId, "first");
    await s.hs.waitFor(() => seen.length === 1, { what: "the first run started" });
    await s.alice.sendText(roomId, "q1");
    await s.alice.sendText(roomId, "q2");
    const refused = await s.alice.sendText(roomId, "q3");
    const [notice] = await s.waitBotMessages(roomId, 1);
    expect(notice?.content).toMatchObject({ msgtype: "m.notice", body: FAILURE_TEXTS.queue_full });
    expect(notice?.content["m.relates_to"]).toBeUndefined(); // a DM: no reply relation
    release();
    await s.waitBotMessages(roomId, 3);
    await s.expectSteady(() => expect(bodies(s.botMessages(roomId))).toEqual([FAILURE_TEXTS.queue_full, "answered: first", "answered: q1 + q2"]));
    expect(seen.flatMap((r) => r.contents)).not.toContain("q3");
    expect(refused).toMatch(/^\$/);
  });

  it("posts a placeholder after PLACEHOLDER_DELAY_MS and edits it into the answer", async () => {
    const { brain } = recordingBrain(async (_run, out, signal) => {
      await pause(400, signal);
      say(out, "**Done** thinking.");
    });
    // Answers posted when complete (STREAMING=final; live answers: test/e2e/live/): the placeholder, then one edit.
    s = await Scenario.start({ mode: "client", brain, env: { PLACEHOLDER_DELAY_MS: "50", STREAMING: "final" } });
    const roomId = await s.openDm();
    await s.alice.sendText(roomId, "think hard");
    const [placeholder] = await s.waitBotEvents(roomId, 1);
    expect(placeholder?.content["msgtype"]).toBe("m.notice");
    const [, edit] = await s.waitBotEvents(roomId, 2);
    await s.expectSteady(() => expect(s.botEvents(roomId)).toHaveLength(2)); // the answer is the edit, not a third message
    expect(edit?.content["m.relates_to"]).toEqual({ rel_type: "m.replace", event_id: placeholder?.event_id });
    const replaced = edit?.content["m.new_content"] as Record<string, unknown>;
    expect(replaced).toMatchObject({ msgtype: "m.text", body: "**Done** thinking." });
    expect(String(replaced["formatted_body"])).toContain("<strong>Done</strong>");
    expect(replaced["m.relates_to"]).toBeUndefined();
    expect(edit?.content["body"]).toBe("* **Done** thinking.");
  });

  it("edits the placeholder into the failure text when the run fails", async () => {
    const { brain } = recordingBrain(async (_run, _out, signal) => {
      await pause(300, signal);
      throw new AgentRunError("upstream_unavailable", "provider down");
    });
    s = await Scenario.start({ mode: "client", brain, env: { PLACEHOLDER_DELAY_MS: "50" } });
    const roomId = await s.openDm();
    await s.alice.sendText(roomId, "will this work?");
    const [placeholder, edit] = await s.waitBotEvents(roomId, 2);
    await s.expectSteady(() => expect(s.botEvents(roomId)).toHaveLength(2));
    expect(edit?.content["m.relates_to"]).toEqual({ rel_type: "m.replace", event_id: placeholder?.event_id });
    expect(edit?.content["m.new_content"]).toMatchObject({ msgtype: "m.notice", body: FAILURE_TEXTS.agent_upstream_unavailable });
  });

  it("a long answer after a placeholder: the edit and every further part each fit an event", async () => {
    const text = Array.from({ length: 3000 }, (_, i) => `Line ${i} of a long answer with **some** markdown in it.`).join("\n\n");
    const { brain } = recordingBrain(async (_run, out, signal) => {
      await pause(200, signal);
      say(out, text);
    });
    s = await Scenario.start({ mode: "client", brain, env: { PLACEHOLDER_DELAY_MS: "50", STREAMING: "final" } });
    const roomId = await s.openDm();
    await s.alice.sendText(roomId, "long one, slowly");
    const lastLine = "Line 2999 of a long answer with **some** markdown in it.";
    await s.hs.waitFor(() => String(s.botEvents(roomId).at(-1)?.content["body"]).endsWith(lastLine), { what: "the last part" });
    await s.settled();
    const [placeholder, edit, ...rest] = s.botEvents(roomId);
    expect(edit?.content["m.relates_to"]).toEqual({ rel_type: "m.replace", event_id: placeholder?.event_id });
    for (const event of [edit, ...rest]) expect(Buffer.byteLength(JSON.stringify(event), "utf8")).toBeLessThan(64 * 1024);
    const all = [String((edit?.content["m.new_content"] as Record<string, unknown>)["body"]), ...rest.map((e) => String(e.content["body"]))];
    expect(all[0]?.startsWith("Line 0 ")).toBe(true);
    // Clients without edit support show the fallback: the start of the answer.
    expect(String(edit?.content["body"])).toMatch(/^\* Line 0 [\s\S]*…$/);
    expect(all.join("\n\n").split("\n\n").filter((l) => l.startsWith("Line "))).toHaveLength(3000);
    expect(all.at(-1)?.endsWith(lastLine)).toBe(true);
  });

  it("keeps typing on while a turn in the room goes on, even when another turn there (in a thread) ends", async () => {
    const { brain, seen, release } = gatedBrain();
    s = await Scenario.start({ mode: "client", brain, env: { TYPING_TIMEOUT_MS: "100" } });
    const roomId = await s.openDm();
    const root = await s.alice.sendText(roomId, "the long one");
    await s.hs.waitFor(() => seen.length === 1, { what: "the long run started" });
    await s.alice.sendThreadReply(roomId, root, "a quick one in a thread");
    await s.waitBotMessages(roomId, 1, "the thread's answer");
    const mine = (): typeof s.hs.typing => s.hs.typing.filter((t) => t.roomId === roomId && t.userId === s.botUserId);
    // The thread's turn is over (typing released) while the main timeline's turn is still running.
    await expectSteady(() => s.routed((work) => work["turns"] === 1),
      () => expect(mine().filter((t) => !t.typing)).toHaveLength(0));
    release();
    await s.waitBotMessages(roomId, 2);
    await s.hs.waitFor(() => mine().at(-1)?.typing === false, { what: "typing off after the last turn" });
    expect(mine().filter((t) => !t.typing)).toHaveLength(1);
  });

  it.each([
    ["success", async (): Promise<void> => undefined],
    ["error", async (): Promise<void> => { throw new AgentRunError("rate_limited", "slow down"); }],
  ])("keeps typing on through a long turn and turns it off at the end (%s)", async (_case, end) => {
    const { brain } = recordingBrain(async (_run, out, signal) => {
      await pause(500, signal);
      await end();
      say(out, "finally");
    });
    s = await Scenario.start({ mode: "client", brain, env: { TYPING_TIMEOUT_MS: "100" } });
    const roomId = await s.openDm();
    await s.alice.sendText(roomId, "take your time");
    await s.waitBotMessages(roomId, 1);
    const mine = (): typeof s.hs.typing => s.hs.typing.filter((t) => t.roomId === roomId && t.userId === s.botUserId);
    await s.hs.waitFor(() => mine().at(-1)?.typing === false, { what: "typing turned off" });
    // A renewal still in flight must not turn typing back on.
    await s.expectSteady(() => expect(mine().at(-1)?.typing).toBe(false));
    const records = mine();
    expect(records.filter((t) => t.typing).length).toBeGreaterThanOrEqual(3);
    expect(records.every((t) => !t.typing || (t.timeout ?? Infinity) <= 30_000)).toBe(true);
    expect(records.at(-1)?.typing).toBe(false);
    expect(records.filter((t) => !t.typing)).toHaveLength(1);
  });

  it("with TYPING_DELAY_MS, a fast answer comes without any typing or read receipt, a slow one with typing on then off and a receipt", async () => {
    // Fast and slow whatever the machine's load: the delay is long next to a quick echo answer, and the slow run
    // lasts until typing went on.
    const DELAY_MS = 3_000;
    const { brain } = recordingBrain(async (run, out, signal) => {
      if (run.contents.some((c) => String(c).includes("slow"))) {
        await waitFor(() => signal.aborted || s.hs.typing.some((t) => t.typing && t.userId === s.botUserId), { what: "typing on for the slow run" });
      }
      say(out, "done");
    });
    s = await Scenario.start({ mode: "client", brain, env: { TYPING_DELAY_MS: String(scaled(DELAY_MS)) } });
    const roomId = await s.openDm();
    const mine = (): typeof s.hs.typing => s.hs.typing.filter((t) => t.roomId === roomId && t.userId === s.botUserId);
    const receiptOn = (eventId: string): boolean => s.hs.receipts.some((r) => r.roomId === roomId && r.userId === s.botUserId && r.eventId === eventId);
    const quick = await s.alice.sendText(roomId, "quick");
    await s.waitBotMessages(roomId, 1);
    // Past the delay: nothing may come late (the answer itself shows the message was read).
    await s.expectSteady(() => {
      expect(mine()).toHaveLength(0);
      expect(receiptOn(quick)).toBe(false);
    }, { windowMs: DELAY_MS });
    const slow = await s.alice.sendText(roomId, "slow one");
    await s.waitBotMessages(roomId, 2);
    await s.hs.waitFor(() => mine().at(-1)?.typing === false, { what: "typing turned off" });
    await s.hs.waitFor(() => receiptOn(slow), { what: "the read receipt on the slow one (sent with typing, during the run)" });
    expect(mine()[0]?.typing).toBe(true);
    expect(mine().filter((t) => !t.typing)).toHaveLength(1);
  });

  it("with TYPING_DELAY_MS, an answer the agent gave at once but slow on its way comes without typing or read receipt", async () => {
    // The homeserver takes twice the delay to accept the answer: the run lasts past TYPING_DELAY_MS, the agent did not.
    const DELAY_MS = 1_500;
    const { brain } = recordingBrain(async (_run, out) => say(out, "done"));
    s = await Scenario.start({ mode: "client", brain, env: { TYPING_DELAY_MS: String(scaled(DELAY_MS)) } });
    const roomId = await s.openDm();
    const mine = (): typeof s.hs.typing => s.hs.typing.filter((t) => t.roomId === roomId && t.userId === s.botUserId);
    s.hs.sendDelayMs = scaled(DELAY_MS) * 2;
    const asked = await s.alice.sendText(roomId, "quick answer, slow delivery");
    await s.waitBotMessages(roomId, 1);
    s.hs.sendDelayMs = 0;
    await s.expectSteady(() => {
      expect(mine()).toHaveLength(0);
      expect(s.hs.receipts.some((r) => r.userId === s.botUserId && r.eventId === asked)).toBe(false);
    });
  });
});
