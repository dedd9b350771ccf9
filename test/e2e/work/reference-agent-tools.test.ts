// The reference agent doing agent work, end to end: the bot (homeserver double) runs the reference agent in-process
// against a scripted OpenAI-compatible LLM double; the model calls a real MCP server over stdio (a child process
// the agent starts) and another over streamable HTTP (started here), both on this machine; the room sees the tool
// lines above the answer in one message; the model gets the results (and a tool's error, in words); tools that
// MCP_TOOLS_ALLOW does not list are never offered.
import { foldEdits } from "../../support/bot-messages";
import { startFakeOpenAI, type FakeOpenAI } from "../../support/fake-openai";
import { startHttpMcpServer, STDIO_MCP_SERVER, type HttpMcpServer } from "../../support/mcp";
import { Scenario } from "../../support/scenario";
import { botEvents, LIVE_TEST_ENV } from "../live/support";
import { scaled } from "../../support/wait";

jest.setTimeout(scaled(90_000));

describe("the reference agent with tools", () => {
  let s: Scenario | undefined;
  let fake: FakeOpenAI | undefined;
  let notes: HttpMcpServer | undefined;
  afterEach(async () => {
    await s?.stop();
    await fake?.close();
    await notes?.close();
    s = undefined;
  });

  it("calls an MCP server over stdio and one over streamable HTTP; the room sees the tool lines and the answer", async () => {
    fake = await startFakeOpenAI();
    notes = await startHttpMcpServer();
    fake.next(
      { kind: "stream", chunks: [], reasoning: ["Two sources to check."], toolCalls: [
        { id: "call_1", name: "words__lookup_word", arguments: '{"word":"matrix"}' },
        { id: "call_2", name: "notes__read_note", arguments: '{"title":"plan"}' },
        { id: "call_3", name: "words__fail_word", arguments: '{"word":"zz"}' },
      ] },
      { kind: "stream", chunks: ["Matrix is ", "an open protocol."] },
    );
    s = await Scenario.start({ mode: "client", env: {
      ...LIVE_TEST_ENV,
      LLM_BASE_URL: fake.baseUrl, LLM_MODEL: "fake-model",
      MCP_SERVERS: JSON.stringify({
        words: { command: process.execPath, args: [STDIO_MCP_SERVER] },
        notes: { url: notes.url, headers: { Authorization: "Bearer notes-secret-token" } },
      }),
      MCP_TOOLS_ALLOW: "words.lookup_word,words.fail_word,notes.read_*",
    } });
    const w = s;
    const roomId = await w.openDm();
    await w.alice.sendText(roomId, "what is matrix?");
    const answer = () => foldEdits(botEvents(w.hs, roomId, w.botUserId).filter((e) => e.type === "m.room.message"))
      .find((m) => !m.live && String(m.content["body"]).endsWith("Matrix is an open protocol."));
    await w.hs.waitFor(() => answer() !== undefined, { what: "the answer written", timeoutMs: 60_000 });

    // Offered: the built-ins and the allowed MCP tools; never words.secret_tool or notes.delete_note.
    for (const request of fake.requests) {
      expect(request.body.tools?.map((t) => t.function.name).sort())
        .toEqual(["calculator", "current_time", "notes__read_note", "words__fail_word", "words__lookup_word"]);
    }
    // The model got each result from the real servers, and the failure in words.
    const toolMessages = (fake.requests[1]?.body.messages ?? []).filter((m) => m.role === "tool");
    expect(toolMessages).toEqual([
      { role: "tool", tool_call_id: "call_1", content: expect.stringMatching(/^matrix: a definition from the stdio server \(pid \d+\)$/) },
      { role: "tool", tool_call_id: "call_2", content: 'note "plan": from the HTTP server' },
      { role: "tool", tool_call_id: "call_3", content: "Error: no entry for zz" },
    ]);
    expect(notes.calls).toEqual([{ name: "read_note", args: { title: "plan" } }]);
    expect(notes.authorizations.every((a) => a === "Bearer notes-secret-token")).toBe(true);

    // One Matrix message: the tool lines above the answer.
    const messages = foldEdits(botEvents(w.hs, roomId, w.botUserId).filter((e) => e.type === "m.room.message"));
    expect(messages).toHaveLength(1);
    expect(answer()?.content["body"])
      .toBe("✓ words__lookup_word · ✓ notes__read_note · ✗ words__fail_word: no entry for zz\n\nMatrix is an open protocol.");
    expect(JSON.stringify(botEvents(w.hs, roomId, w.botUserId))).not.toContain("Two sources");
    expect(w.bot.logs.raw.join("\n")).not.toContain("notes-secret-token");
    expect(w.bot.logs.lines().filter((l) => l.level >= 30 && JSON.stringify(l).includes("Two sources"))).toEqual([]);
  });
});
