// The reference agent asks before running a tool matched by LLM_TOOLS_REQUIRE_APPROVAL, end to end: the bot runs
// it in-process against the scripted OpenAI-compatible LLM double; the model's call pauses the run (AG-UI interrupt),
// the prompt names the tool and its arguments; approved, the call runs (an MCP tool over stdio, offered because it
// requires approval, MCP_TOOLS_ALLOW being unset) even after the bot and its agent restarted in between; denied,
// the model is told, and answers.
import { scaled } from "../../support/wait";
import { startFakeOpenAI, type FakeOpenAI } from "../../support/fake-openai";
import { STDIO_MCP_SERVER } from "../../support/mcp";
import { Scenario } from "../../support/scenario";
import { LIVE_TEST_ENV } from "../live/support";
import { prompts, promptEdits, react, shown, waitPrompts } from "./support";

jest.setTimeout(scaled(120_000));

describe("the reference agent's tools that need approval", () => {
  let s: Scenario | undefined;
  let fake: FakeOpenAI | undefined;
  afterEach(async () => {
    await s?.stop();
    await fake?.close();
    s = undefined;
  });

  const answered = (w: Scenario, roomId: string, text: string) => w.botMessages(roomId).map(shown).some((b) => b.endsWith(text));

  it("an MCP tool approved after a restart runs, and the model answers from its result", async () => {
    fake = await startFakeOpenAI();
    fake.next(
      { kind: "stream", chunks: [], toolCalls: [{ id: "call_1", name: "words__lookup_word", arguments: '{"word":"matrix"}' }] },
      { kind: "stream", chunks: ["Matrix is ", "an open protocol."] },
    );
    s = await Scenario.start({ mode: "client", env: { ...LIVE_TEST_ENV, LLM_BASE_URL: fake.baseUrl, LLM_MODEL: "fake-model",
      MCP_SERVERS: JSON.stringify({ words: { command: process.execPath, args: [STDIO_MCP_SERVER] } }),
      LLM_TOOLS_REQUIRE_APPROVAL: "words.lookup_*" } });
    const w = s;
    const roomId = await w.openDm();
    await w.alice.sendText(roomId, "what is matrix?");
    const [prompt] = await waitPrompts(w, roomId);
    expect(String(prompt?.content["body"])).toContain("May I run words.lookup_word?");
    expect(String(prompt?.content["body"])).toContain('{"word":"matrix"}');
    // Offered because it needs approval (MCP_TOOLS_ALLOW unset); the tool did not run yet.
    expect(fake.requests[0]?.body.tools?.map((t) => t.function.name).sort()).toEqual(["calculator", "current_time", "words__lookup_word"]);
    expect(fake.requests).toHaveLength(1);

    await w.restartBot(); // the in-process agent restarts with it: the paused call is in its store
    await w.alice.send(roomId, "m.reaction", react({ eventId: String(prompt?.event_id), key: "✅" }));
    await w.hs.waitFor(() => answered(w, roomId, "Matrix is an open protocol."), { what: "the answer after the approval", timeoutMs: 60_000 });
    const toolMessages = (fake.requests[1]?.body.messages ?? []).filter((m) => m.role === "tool");
    expect(toolMessages).toEqual([{ role: "tool", tool_call_id: "call_1", content: expect.stringMatching(/^matrix: a definition from the stdio server/) }]);
    expect(promptEdits(w, roomId, String(prompt?.event_id)).some((b) => b.includes("✅ approved by Alice"))).toBe(true);
    await w.expectSteady(() => {
      expect(fake?.requests).toHaveLength(2);
      expect(prompts(w, roomId)).toHaveLength(1);
    });
  });

  it("a built-in tool denied: never run, the model is told and answers", async () => {
    fake = await startFakeOpenAI();
    fake.next(
      { kind: "stream", chunks: [], toolCalls: [{ id: "call_1", name: "calculator", arguments: '{"expression":"6*7"}' }] },
      { kind: "stream", chunks: ["All right, I will not calculate it."] },
    );
    s = await Scenario.start({ mode: "client", env: { ...LIVE_TEST_ENV, LLM_BASE_URL: fake.baseUrl, LLM_MODEL: "fake-model",
      LLM_TOOLS_REQUIRE_APPROVAL: "calculator" } });
    const w = s;
    const roomId = await w.openDm();
    await w.alice.sendText(roomId, "what is 6*7?");
    const [prompt] = await waitPrompts(w, roomId);
    expect(String(prompt?.content["body"])).toContain("May I run calculator?");
    await w.alice.sendText(roomId, "!deny");
    await w.hs.waitFor(() => answered(w, roomId, "All right, I will not calculate it."), { what: "the answer after the denial", timeoutMs: 60_000 });
    const toolMessages = (fake.requests[1]?.body.messages ?? []).filter((m) => m.role === "tool");
    expect(toolMessages).toEqual([{ role: "tool", tool_call_id: "call_1", content: "Error: not run: the user denied it" }]);
  });
});
