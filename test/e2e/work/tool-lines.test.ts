// The agent's work in the room, end to end against the homeserver double with a scripted v2 agent: its tool calls
// and steps are one status line in the live answer (🔧 while a call runs, then ✓ or ✗ with the reason), never a
// message per event, kept in the final message; its reasoning is never shown, nor logged at info level or above;
// after /details on the answer carries each call's arguments and result and a folded Thinking part; after
// /toollines off the finished answer is the text alone.
import type { ClientEvent } from "../../support/homeserver/types";
import { foldEdits } from "../../support/bot-messages";
import { Scenario } from "../../support/scenario";
import { closeScriptedAgents, startScriptedAgent, type ScriptedConn } from "../../support/scripted-agent";
import { botEvents, LIVE_TEST_ENV } from "../live/support";
import { scaled } from "../../support/wait";

jest.setTimeout(scaled(90_000));

const MUSING = "secret-musing-42";

const shownBody = (e: ClientEvent): string =>
  String(((e.content["m.new_content"] as Record<string, unknown> | undefined) ?? e.content)["body"]);

describe("the agent's work in the room", () => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.stop();
    s = undefined;
    await closeScriptedAgents();
  });

  it("tool lines in one live message, kept in the answer; reasoning hidden; /details on folds arguments, results and thinking; /toollines off", async () => {
    const holder: { s?: Scenario } = {};
    const messages = (roomId: string): ClientEvent[] => {
      const w = holder.s;
      return w ? botEvents(w.hs, roomId, w.botUserId).filter((e) => e.type === "m.room.message") : [];
    };
    /** A run: reasoning, a step with two tool calls (the first shown running before it ends, the second failing), then the text. */
    async function work(conn: ScriptedConn, frame: Record<string, unknown>): Promise<void> {
      const runId = String(frame.runId);
      const names = { threadId: conn.threadOf(runId), runId };
      const context = (frame.input as { context: Array<{ description: string; value: string }> }).context;
      const roomId = context.find((c) => c.description === "roomId")?.value ?? "";
      const shownBefore = messages(roomId).length;
      conn.event(runId, { type: "RUN_STARTED", ...names });
      conn.event(runId, { type: "REASONING_START", messageId: "r1" });
      conn.event(runId, { type: "REASONING_MESSAGE_CHUNK", messageId: "r1", delta: `I must look this up (${MUSING}).` });
      conn.event(runId, { type: "REASONING_END", messageId: "r1" });
      conn.event(runId, { type: "STEP_STARTED", stepName: "research" });
      conn.event(runId, { type: "TOOL_CALL_START", toolCallId: "c1", toolCallName: "search_docs" });
      conn.event(runId, { type: "TOOL_CALL_ARGS", toolCallId: "c1", delta: '{"query":' });
      conn.event(runId, { type: "TOOL_CALL_ARGS", toolCallId: "c1", delta: '"matrix"}' });
      conn.event(runId, { type: "TOOL_CALL_END", toolCallId: "c1" });
      // The call is shown running before its result comes.
      await holder.s?.hs.waitFor(() => messages(roomId).slice(shownBefore).some((e) => shownBody(e).includes("🔧 search_docs…")),
        { what: "the running tool line", timeoutMs: 30_000 });
      conn.event(runId, { type: "TOOL_CALL_RESULT", messageId: "t1", toolCallId: "c1", content: "3 pages found", role: "tool" });
      conn.event(runId, { type: "TOOL_CALL_START", toolCallId: "c2", toolCallName: "fetch_page" });
      conn.event(runId, { type: "TOOL_CALL_END", toolCallId: "c2" });
      conn.event(runId, { type: "TOOL_CALL_RESULT", messageId: "t2", toolCallId: "c2", content: "", role: "tool", error: "HTTP 503" });
      conn.event(runId, { type: "STEP_FINISHED", stepName: "research" });
      conn.event(runId, { type: "TEXT_MESSAGE_START", messageId: "m1", role: "assistant" });
      conn.event(runId, { type: "TEXT_MESSAGE_CONTENT", messageId: "m1", delta: "Here is what I found." });
      conn.event(runId, { type: "TEXT_MESSAGE_END", messageId: "m1" });
      conn.event(runId, { type: "RUN_FINISHED", ...names });
    }
    const agent = await startScriptedAgent({
      protocol: 2,
      onFrame: (conn, frame) => {
        if (frame.op === "run") void work(conn, frame).catch(() => undefined);
      },
    });
    s = holder.s = await Scenario.start({ mode: "client", env: { AGENT_URL: agent.url, ...LIVE_TEST_ENV } });
    const w = s;
    const roomId = await w.openDm();
    const answers = () => foldEdits(messages(roomId)).filter((m) => String(m.content["body"]).includes("Here is what I found."));
    const written = (n: number) => answers().length === n && answers().every((m) => !m.live);

    await w.alice.sendText(roomId, "look it up");
    await w.hs.waitFor(() => written(1), { what: "the first answer written", timeoutMs: 60_000 });
    const events = messages(roomId);
    // One Matrix message for the whole run: its first event, then edits (the line changing, the text arriving).
    expect(foldEdits(events)).toHaveLength(1);
    expect(shownBody(events[0] as ClientEvent)).toMatch(/^⏳ research…/); // the work is shown before any text
    expect(events.some((e) => shownBody(e).startsWith("⏳ research… · 🔧 search_docs…"))).toBe(true);
    const [first] = answers();
    expect(first?.content["body"]).toBe("✓ research · ✓ search_docs · ✗ fetch_page: HTTP 503\n\nHere is what I found.");
    expect(first?.content["formatted_body"]).toBe("<p>✓ research · ✓ search_docs · ✗ fetch_page: HTTP 503</p>\n<p>Here is what I found.</p>");
    expect(JSON.stringify(events)).not.toContain(MUSING);
    expect(JSON.stringify(events)).not.toContain("<details>");

    const replies = () => w.hs.sent({ roomId, sender: w.botUserId }).filter((e) => e.content["msgtype"] === "m.notice").map((e) => String(e.content["body"]));
    await w.alice.sendText(roomId, "/details on");
    await w.hs.waitFor(() => replies().some((b) => b.startsWith("Details are now on here")), { what: "the /details reply" });
    await w.alice.sendText(roomId, "again, with details");
    await w.hs.waitFor(() => written(2), { what: "the second answer written", timeoutMs: 60_000 });
    const detailed = answers()[1];
    const html = String(detailed?.content["formatted_body"]);
    expect(html).toContain(`<details><summary>💭 Thinking</summary><blockquote>I must look this up (${MUSING}).</blockquote></details>`);
    expect(html).toContain('<details><summary>✓ search_docs</summary><p>Arguments</p><pre><code>{\n  "query": "matrix"\n}</code></pre>'
      + "<p>Result</p><pre><code>3 pages found</code></pre></details>");
    expect(String(detailed?.content["body"])).toMatch(/^✓ research · ✓ search_docs · ✗ fetch_page: HTTP 503\n\n💭 Thinking\n {2}I must look this up/);

    await w.alice.sendText(roomId, "/toollines off");
    await w.alice.sendText(roomId, "/details off");
    await w.hs.waitFor(() => replies().some((b) => b.startsWith("Details are now off here")), { what: "the /details off reply" });
    await w.alice.sendText(roomId, "once more, plainly");
    await w.hs.waitFor(() => written(3), { what: "the third answer written", timeoutMs: 60_000 });
    const third = answers()[2];
    expect(third?.content["body"]).toBe("Here is what I found.");
    // The line was shown while the work ran, and is gone from the finished message.
    const thirdEvents = messages(roomId).filter((e) => e.event_id === third?.event_id || (e.content["m.relates_to"] as { event_id?: string } | undefined)?.event_id === third?.event_id);
    expect(thirdEvents.some((e) => shownBody(e).includes("🔧 search_docs…"))).toBe(true);

    // Reasoning never reached a log line at info level or above.
    expect(w.bot.logs.lines().filter((l) => l.level >= 30 && JSON.stringify(l).includes(MUSING))).toEqual([]);
  });
});
