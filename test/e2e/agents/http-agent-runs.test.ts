// An AG-UI HTTP agent as a WebSocket agent, end to end (AGENTS_FILE names it; the room chooses it with /agent):
// a run that ends with an interrupt outcome becomes a prompt, the approval by reaction resumes the run with one new
// POST carrying `resume` (AG-UI 1.0) and the conversation so far, and its answer arrives; the independent
// @ag-ui/encoder server and the reference agent's own AGENT_HTTP_PORT endpoint (LLM_TOOLS_REQUIRE_APPROVAL) alike.
// Answers stream by edits, and chunked events (TEXT_MESSAGE_CHUNK, TOOL_CALL_CHUNK) render like the start/end form.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pino from "pino";
import { loadAgentConfig } from "../../../src/reference-agent/config";
import { startReferenceAgentFromConfig, type ConfiguredAgent } from "../../../src/reference-agent/from-config";
import { startAguiHttpAgent, type AguiRequest } from "../../support/agui-http-agent";
import { botMessagesIn } from "../../support/bot-messages";
import { startFakeOpenAI, type FakeOpenAI } from "../../support/fake-openai";
import { Scenario } from "../../support/scenario";
import { scaled } from "../../support/wait";
import { APPROVAL, promptEdits, react, reactionsOn, shown, waitPrompts } from "../interrupts/support";
import { botEvents, LIVE_TEST_ENV } from "../live/support";
import { agentsFile, stopAgentsWorld } from "./support";

jest.setTimeout(scaled(120_000));

let s: Scenario | undefined;
let fake: FakeOpenAI | undefined;
let reference: ConfiguredAgent | undefined;
afterEach(async () => {
  await stopAgentsWorld(s);
  s = undefined;
  await reference?.close();
  reference = undefined;
  await fake?.close();
  fake = undefined;
});

/** The bot with the embedded echo agent as "default" and `url` as the HTTP agent "coder"; a DM that chose coder. */
async function dmWithCoder(url: string): Promise<{ w: Scenario; roomId: string }> {
  const file = agentsFile(`agents:\n  coder:\n    url: ${url}\n    displayName: Coder\n`);
  const w = s = await Scenario.start({ mode: "client", externalAgent: true, env: { AGENTS_FILE: file, ...LIVE_TEST_ENV } });
  const roomId = await w.openDm();
  await w.alice.sendText(roomId, "/agent coder");
  await w.waitBotMessages(roomId, 1, "the /agent reply");
  await w.settled();
  return { w, roomId };
}

/** The bot's events (messages and edits) in a room that show the answer's first part but not yet the rest. */
const shownBefore = (w: Scenario, roomId: string): string[] =>
  botEvents(w.hs, roomId, w.botUserId).map(shown).filter((b) => b.includes("First part,") && !b.includes("the rest"));

/** Coder's prompts and answers carry its face: its name before the body (MSC4144's fallback). */
const AS_CODER = "Coder: ";
const PROMPT_MARK = `${AS_CODER}🔐`;
const resumedAnswers = (w: Scenario, roomId: string): string[] =>
  botMessagesIn(w.hs, roomId, w.botUserId).map(shown).filter((b) => b.startsWith(`${AS_CODER}resumed:`)).map((b) => b.slice(AS_CODER.length));

const resumeOf = (r: AguiRequest | undefined): unknown => r?.body["resume"];

describe("an AG-UI HTTP agent's runs", () => {
  it("an interrupt outcome is a prompt; the approval by reaction (after a restart) resumes the run with one POST, and its answer arrives", async () => {
    const http = await startAguiHttpAgent((req, _res, open) => {
      const st = open();
      const { threadId, runId } = req.body;
      st.send({ type: "RUN_STARTED", threadId, runId });
      const resume = resumeOf(req);
      if (resume !== undefined) {
        st.send({ type: "TEXT_MESSAGE_START", messageId: `m-${runId}`, role: "assistant" });
        st.send({ type: "TEXT_MESSAGE_CONTENT", messageId: `m-${runId}`, delta: `resumed: ${JSON.stringify(resume)}` });
        st.send({ type: "TEXT_MESSAGE_END", messageId: `m-${runId}` });
        st.send({ type: "RUN_FINISHED", threadId, runId });
      } else {
        st.send({ type: "RUN_FINISHED", threadId, runId, outcome: { type: "interrupt", interrupts: [APPROVAL] } });
      }
      st.end();
    });
    const { w, roomId } = await dmWithCoder(http.url);
    await w.alice.sendText(roomId, "mail Bob");
    const [prompt] = await waitPrompts(w, roomId, 1, PROMPT_MARK);
    const promptId = String(prompt?.event_id);
    expect(String(prompt?.content["body"])).toContain("Send the mail to Bob?");
    await w.hs.waitFor(() => reactionsOn(w, roomId, promptId).length === 2, { what: "the bot's ✅ and ❌" });
    expect(http.requests).toHaveLength(1);

    await w.restartBot(); // the prompt waits in the bot's store; the HTTP agent keeps nothing
    await w.alice.send(roomId, "m.reaction", react({ eventId: promptId, key: "✅" }));
    await w.hs.waitFor(() => resumedAnswers(w, roomId).length === 1, { what: "the resumed run's answer" });
    expect(resumedAnswers(w, roomId)[0]).toBe('resumed: [{"interruptId":"i1","status":"resolved","payload":{"approved":true}}]');
    await w.hs.waitFor(() => promptEdits(w, roomId, promptId).some((b) => b.includes("✅ approved by Alice")), { what: "the prompt's outcome" });
    // A second reaction resumes nothing: one resume POST, on the same thread, with the conversation so far.
    await w.alice.send(roomId, "m.reaction", react({ eventId: promptId, key: "❌" }));
    await w.expectSteady(() => expect(http.requests).toHaveLength(2));
    const [asked, resumed] = http.requests;
    expect(resumeOf(asked)).toBeUndefined();
    expect(resumed?.body.threadId).toBe(asked?.body.threadId);
    expect(resumed?.body.runId).not.toBe(asked?.body.runId);
    expect(resumed?.body.messages.map((m) => [m.role, m.content])).toEqual([["user", "mail Bob"]]);
  });

  it("the reference agent over AGENT_HTTP_PORT: a tool that needs approval pauses; approved, it runs and the model answers", async () => {
    fake = await startFakeOpenAI();
    fake.next(
      { kind: "stream", chunks: [], toolCalls: [{ id: "call_1", name: "calculator", arguments: '{"expression":"6*7"}' }] },
      { kind: "stream", chunks: ["It is ", "42."] },
    );
    const loaded = loadAgentConfig({ LLM_BASE_URL: fake.baseUrl, LLM_MODEL: "fake-model", LLM_TOOLS_REQUIRE_APPROVAL: "calculator",
      DATA_DIR: mkdtempSync(path.join(tmpdir(), "agents2-refagent-")) });
    if (!loaded.ok) throw new Error(`agent config: ${JSON.stringify(loaded)}`);
    reference = await startReferenceAgentFromConfig(loaded.config, { logger: pino({ level: "silent" }), host: "127.0.0.1", port: 0,
      httpPort: 0, token: null });
    const { w, roomId } = await dmWithCoder(String(reference.httpUrl));
    await w.alice.sendText(roomId, "what is 6*7?");
    const [prompt] = await waitPrompts(w, roomId, 1, PROMPT_MARK);
    expect(String(prompt?.content["body"])).toContain("May I run calculator?");
    await w.alice.send(roomId, "m.reaction", react({ eventId: String(prompt?.event_id), key: "✅" }));
    await w.hs.waitFor(() => w.botMessages(roomId).map(shown).some((b) => b.endsWith("It is 42.")), { what: "the answer after the approval" });
    const toolMessages = (fake.requests[1]?.body.messages ?? []).filter((m) => m.role === "tool");
    expect(toolMessages).toEqual([{ role: "tool", tool_call_id: "call_1", content: "42" }]);
    await w.expectSteady(() => expect(fake?.requests).toHaveLength(2));
  });

  it("streams the answer by edits; TOOL_CALL_CHUNKs and TEXT_MESSAGE_CHUNKs render as the start/end form does", async () => {
    let world: Scenario | undefined;
    let room = "";
    const http = await startAguiHttpAgent(async (req, _res, open) => {
      const st = open();
      const { threadId, runId } = req.body;
      st.send({ type: "RUN_STARTED", threadId, runId });
      st.send({ type: "TOOL_CALL_CHUNK", toolCallId: "tc1", toolCallName: "search_docs", delta: "{\"q\":" });
      st.send({ type: "TOOL_CALL_CHUNK", toolCallId: "tc1", delta: "\"x\"}" });
      st.send({ type: "TOOL_CALL_RESULT", messageId: "tr1", toolCallId: "tc1", content: "found it" });
      st.send({ type: "TEXT_MESSAGE_CHUNK", messageId: "m1", role: "assistant", delta: "First part, " });
      // The rest only once the bot has shown the first part (in its first message or a live edit of it).
      const w = world as Scenario;
      await w.hs.waitFor(() => shownBefore(w, room).length > 0 || undefined, { what: "the first part shown" });
      st.send({ type: "TEXT_MESSAGE_CHUNK", delta: "then the rest." });
      st.send({ type: "RUN_FINISHED", threadId, runId });
      st.end();
    });
    const { w, roomId } = await dmWithCoder(http.url);
    world = w;
    room = roomId;
    await w.alice.sendText(roomId, "look it up");
    await w.hs.waitFor(() => w.botMessages(roomId).map(shown).some((b) => b.endsWith("First part, then the rest.")), { what: "the whole answer", describe: () => JSON.stringify(botEvents(w.hs, roomId, w.botUserId).map((e) => [e.type, shown(e)])) });
    const final = w.botMessages(roomId).map(shown).find((b) => b.endsWith("First part, then the rest."));
    expect(final).toMatch(/✓ search_docs[\s\S]*First part, then the rest\.$/);
    expect(shownBefore(w, roomId).length).toBeGreaterThan(0); // streamed: shown before the run had finished
  });
});
