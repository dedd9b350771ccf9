// Approvals in the room, end to end against the homeserver double with a scripted v2 agent that pauses its runs
// (RUN_FINISHED outcome "interrupt"): the prompt shows the tool and its arguments, the bot adds ✅ and ❌, the
// asker's reaction (with or without U+FE0F) or reply answers it, the prompt is edited to show the outcome, and the
// run resumes once with the answer; a second reaction, a non-asker's and a stranger's change nothing.
import { scaled } from "../../support/wait";
import { Scenario } from "../../support/scenario";
import { closeScriptedAgents } from "../../support/scripted-agent";
import { LIVE_TEST_ENV } from "../live/support";
import { scrapeMetrics } from "../../support/bot-idle";
import { APPROVAL, dmWithPrompt, promptEdits, react, reactionsOn, resumedAnswers, resumeRuns, shown, startPausingAgent, waitPrompts } from "./support";

jest.setTimeout(scaled(90_000));

describe("approvals answered in the room", () => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.stop();
    s = undefined;
    await closeScriptedAgents();
  });

  it("approve by reaction in a DM: one resume, the prompt shows who approved; a second reaction does nothing", async () => {
    const world = await dmWithPrompt();
    const { agent, roomId, promptId, prompt } = world;
    const w = s = world.s;
    expect(String(prompt?.content["body"])).toContain("Send the mail to Bob?");
    expect(String(prompt?.content["body"])).toContain("send_mail");
    expect(String(prompt?.content["body"])).toContain("bob@example.org");
    await w.hs.waitFor(() => reactionsOn(w, roomId, promptId).length === 2, { what: "the bot's ✅ and ❌" });
    expect(reactionsOn(w, roomId, promptId)).toEqual(["✅", "❌"]);

    await w.alice.send(roomId, "m.reaction", react({ eventId: promptId, key: "✔️" }));
    await w.hs.waitFor(() => resumedAnswers(w, roomId).length === 1, { what: "the resumed run's answer" });
    expect(resumedAnswers(w, roomId)[0]).toBe('resumed: [{"interruptId":"i1","status":"resolved","payload":{"approved":true}}]');
    await w.hs.waitFor(() => promptEdits(w, roomId, promptId).some((b) => b.includes("✅ approved by Alice")), { what: "the prompt's outcome" });

    await w.alice.send(roomId, "m.reaction", react({ eventId: promptId, key: "❌" }));
    await w.expectSteady(() => {
      expect(resumeRuns(agent)).toHaveLength(1);
      expect(promptEdits(w, roomId, promptId)).toHaveLength(1);
    });
    expect(await scrapeMetrics(w.bot.app)).toContain('matrix_agent_bot_prompts_total{outcome="approved"} 1');
  });

  it("a group room: a non-asker's and a stranger's reactions are ignored; the asker's reply \"no\" denies", async () => {
    const agent = await startPausingAgent();
    s = await Scenario.start({ mode: "client", env: { AGENT_URL: agent.url, ALLOWED_USERS: "@alice:localhost,@bob:localhost", ...LIVE_TEST_ENV } });
    const w = s;
    const bob = w.person("bob", "Bob");
    const mallory = w.person("mallory", "Mallory");
    const roomId = await w.openGroup(w.alice, [bob, mallory]);
    const question = await w.alice.sendText(roomId, "Agent Bot: mail Bob");
    const [prompt] = await waitPrompts(w, roomId);
    const promptId = String(prompt?.event_id);
    // In a group room the prompt replies to the asker's message.
    expect((prompt?.content["m.relates_to"] as Record<string, unknown>)["m.in_reply_to"]).toEqual({ event_id: question });
    await w.hs.waitFor(() => reactionsOn(w, roomId, promptId).length === 2, { what: "the bot's ✅ and ❌" });

    await bob.send(roomId, "m.reaction", react({ eventId: promptId, key: "✅" }));
    await mallory.send(roomId, "m.reaction", react({ eventId: promptId, key: "✅" }));
    await bob.sendText(roomId, "!approve");
    await w.expectSteady(() => {
      expect(resumeRuns(agent)).toHaveLength(0);
      expect(promptEdits(w, roomId, promptId)).toHaveLength(0);
    });
    // /status lists the prompt still waiting.
    await w.alice.sendText(roomId, "/status");
    const status = await w.hs.waitFor(() => w.botMessages(roomId).map(shown).find((b) => b.startsWith("Agent link:")), { what: "the /status reply" });
    expect(status).toContain("Waiting for an answer here: 1 prompt.");
    expect(status).toMatch(/- an approval for @alice:localhost, expires in (9|10) minutes: 🔐 Send the mail to Bob\?/);

    await w.alice.sendText(roomId, "no", { "m.relates_to": { "m.in_reply_to": { event_id: promptId } } });
    await w.hs.waitFor(() => resumedAnswers(w, roomId).length === 1, { what: "the resumed run's answer" });
    expect(resumedAnswers(w, roomId)[0]).toBe('resumed: [{"interruptId":"i1","status":"resolved","payload":{"approved":false}}]');
    await w.hs.waitFor(() => promptEdits(w, roomId, promptId).some((b) => b.includes("❌ denied by Alice")), { what: "the prompt's outcome" });
    // "no" was an answer, never a question for the agent.
    await w.expectSteady(() => expect(agent.runs()).toHaveLength(2));
  });

  it("someone with the settings permission (the room's creator) may answer another person's prompt", async () => {
    const agent = await startPausingAgent();
    s = await Scenario.start({ mode: "client", env: { AGENT_URL: agent.url, ...LIVE_TEST_ENV } });
    const w = s;
    const bob = w.person("bob", "Bob");
    const roomId = await w.openGroup(w.alice, [bob]); // Alice created it: power 100; Bob: 0
    await bob.sendText(roomId, "Agent Bot: mail Carol");
    const [prompt] = await waitPrompts(w, roomId);
    await w.alice.send(roomId, "m.reaction", react({ eventId: String(prompt?.event_id), key: "✅" }));
    await w.hs.waitFor(() => resumedAnswers(w, roomId).length === 1, { what: "the resumed run's answer" });
    expect(promptEdits(w, roomId, String(prompt?.event_id)).some((b) => b.includes("✅ approved by Alice"))).toBe(true);
  });

  it("two interrupts in one run: one resume, after both are answered (a reaction and !deny on the replied-to prompt)", async () => {
    const agent = await startPausingAgent([APPROVAL, { id: "i2", reason: "tool_approval", message: "Also copy Carol?", toolCallId: "c2" }]);
    s = await Scenario.start({ mode: "client", env: { AGENT_URL: agent.url, ...LIVE_TEST_ENV } });
    const w = s;
    const roomId = await w.openDm();
    await w.alice.sendText(roomId, "mail Bob");
    const [first, second] = await waitPrompts(w, roomId, 2);
    await w.alice.send(roomId, "m.reaction", react({ eventId: String(first?.event_id), key: "✅" }));
    await w.hs.waitFor(() => promptEdits(w, roomId, String(first?.event_id)).length === 1, { what: "the first prompt's outcome" });
    await w.expectSteady(() => expect(resumeRuns(agent)).toHaveLength(0));

    await w.alice.sendText(roomId, "!deny", { "m.relates_to": { "m.in_reply_to": { event_id: String(second?.event_id) } } });
    await w.hs.waitFor(() => resumedAnswers(w, roomId).length === 1, { what: "the resumed run's answer" });
    expect(resumedAnswers(w, roomId)[0]).toBe('resumed: [{"interruptId":"i1","status":"resolved","payload":{"approved":true}},'
      + '{"interruptId":"i2","status":"resolved","payload":{"approved":false}}]');
    await w.expectSteady(() => expect(resumeRuns(agent)).toHaveLength(1));
  });

  it("an unanswered prompt expires after APPROVAL_TIMEOUT_MS: shown as expired, the run resumes with cancelled", async () => {
    const world = await dmWithPrompt({ APPROVAL_TIMEOUT_MS: "1500" });
    const { agent, roomId, prompt } = world;
    const w = s = world.s;
    await w.hs.waitFor(() => resumedAnswers(w, roomId).length === 1, { what: "the resumed run's answer", timeoutMs: 30_000 });
    expect(resumedAnswers(w, roomId)[0]).toBe('resumed: [{"interruptId":"i1","status":"cancelled"}]');
    expect(promptEdits(w, roomId, String(prompt?.event_id)).some((b) => b.includes("⌛ expired"))).toBe(true);
    // A reaction after the expiry changes nothing.
    await w.alice.send(roomId, "m.reaction", react({ eventId: String(prompt?.event_id), key: "✅" }));
    await w.expectSteady(() => expect(resumeRuns(agent)).toHaveLength(1));
  });

  it("/stop cancels the pending prompt without resuming; a message sent meanwhile waited and runs after", async () => {
    const world = await dmWithPrompt();
    const { agent, roomId, prompt } = world;
    const w = s = world.s;
    await w.alice.sendText(roomId, "and what time is it?");
    await w.expectSteady(() => expect(agent.runs()).toHaveLength(1)); // it waits while the prompt is pending
    await w.alice.sendText(roomId, "/stop");
    await w.hs.waitFor(() => promptEdits(w, roomId, String(prompt?.event_id)).some((b) => b.includes("cancelled")), { what: "the prompt cancelled" });
    await w.hs.waitFor(() => agent.runs().length === 2, { what: "the waiting message's run" });
    const second = agent.runs()[1]?.input as { messages: Array<{ content: string }> };
    expect(second.messages.map((m) => m.content)).toEqual(["and what time is it?"]);
    await w.expectSteady(() => expect(resumeRuns(agent)).toHaveLength(0));
  });

  /** A group of Alice and Bob with the bot, and Alice's approval prompt posted with its ✅ and ❌. */
  async function groupWithApproval() {
    const agent = await startPausingAgent();
    const w = s = await Scenario.start({ mode: "client", env: { AGENT_URL: agent.url, ALLOWED_USERS: "@alice:localhost,@bob:localhost", ...LIVE_TEST_ENV } });
    const roomId = await w.openGroup(w.alice, [w.person("bob", "Bob")]);
    await w.alice.sendText(roomId, "Agent Bot: mail Bob");
    const [prompt] = await waitPrompts(w, roomId);
    await w.hs.waitFor(() => reactionsOn(w, roomId, String(prompt?.event_id)).length === 2, { what: "the bot's ✅ and ❌" });
    return { agent, w, roomId };
  }

  it("a prompt in a room the bot was removed from is cancelled: never resumed, counted as cancelled", async () => {
    const { agent, w, roomId } = await groupWithApproval();
    await w.alice.kick(roomId, w.botUserId, "enough");
    await w.bot.logs.waitFor((l) => l.msg === "the bot left the room: its pending prompts are cancelled" && l["roomId"] === roomId, "the prompt cancelled");
    await w.expectSteady(() => expect(resumeRuns(agent)).toHaveLength(0));
    expect(await scrapeMetrics(w.bot.app)).toContain('matrix_agent_bot_prompts_total{outcome="cancelled"} 1');
  });

  it("messages waiting behind a prompt in a room the bot was removed from are dropped: never run, counted and logged", async () => {
    const { agent, w, roomId } = await groupWithApproval();
    const waiting = await w.alice.sendText(roomId, "Agent Bot: and what time is it?");
    await w.expectSteady(() => expect(agent.runs()).toHaveLength(1)); // it waits while the prompt is pending
    await w.alice.kick(roomId, w.botUserId, "enough");
    const handled = await w.bot.logs.waitFor((l) => l.msg === "message handled" && l["eventId"] === waiting, "the waiting message handled");
    expect(handled["outcome"]).toBe("room_left");
    await w.expectSteady(() => expect(agent.runs()).toHaveLength(1));
    expect(await scrapeMetrics(w.bot.app)).toContain('matrix_agent_bot_messages_dropped_total{reason="room_left"} 1');
  });
});
