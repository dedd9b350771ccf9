// The agent's work in an answer: tool lines in the live message of the agent message they lead to (never a message
// per event), kept in the finished message or dropped as the room chose, details folded on request, a message
// finished only once its work is, what still ran when the run failed marked so, and rooms that do not stream.
import Keyv from "keyv";
import type { WorkEvent } from "../../../src/agent/run-events";
import { AnswerRenderer, type LiveRendering } from "../../../src/render/answer";
import { LIVE_MARKER } from "../../../src/render/live-content";
import { LiveStore } from "../../../src/render/live-store";
import { LIVE_DEFAULTS, RateLimitGate } from "../../../src/render/pacing";
import type { WorkVisibility } from "../../../src/render/work-view";
import { dm, RecordingRoom, silent, waitUntil } from "./support";

function rendering(visibility: WorkVisibility, streams = true): LiveRendering {
  return { streams: async () => streams, encrypted: async () => false, store: new LiveStore(new Keyv(), silent), gate: new RateLimitGate(),
    options: { ...LIVE_DEFAULTS, editIntervalMs: 0, slowEditIntervalMs: 0 }, workVisibility: async () => visibility };
}

async function renderer(room: RecordingRoom, visibility: WorkVisibility = { toolLines: true, details: false }, streams = true): Promise<AnswerRenderer> {
  const sender = { sendEvent: (_roomId: string, _type: string, content: Record<string, unknown>, txnId: string) => room.send(content, txnId) };
  return AnswerRenderer.create(dm, "$run", { sender, log: silent, live: rendering(visibility, streams) }, (part) => `txn.${part}`);
}

const start = (id: string, name: string): WorkEvent => ({ kind: "tool_start", toolCallId: id, name });
const args = (id: string, delta: string): WorkEvent => ({ kind: "tool_args", toolCallId: id, delta });
const result = (id: string, content: string, error?: string): WorkEvent => ({ kind: "tool_result", toolCallId: id, content, ...(error !== undefined ? { error } : {}) });
const bodies = (room: RecordingRoom): string[] => room.events.map((e) => String((e.content["m.new_content"] as Record<string, unknown> | undefined)?.["body"] ?? e.content["body"]));

test("a tool call shows at once as a line of the live message, turns ✓, and the answer's text follows in the same message", async () => {
  const room = new RecordingRoom();
  const r = await renderer(room);
  r.onWork(start("c1", "search_docs"));
  await waitUntil(() => room.events.length === 1, "the line posted");
  expect(room.events[0]?.content).toMatchObject({ body: "🔧 search_docs…", [LIVE_MARKER]: {} });
  r.onWork(args("c1", '{"q":"x"}'));
  r.onWork(result("c1", "3 pages"));
  await waitUntil(() => bodies(room).includes("✓ search_docs"), "the line turned ✓");
  r.onTextStart("m1");
  r.onTextProgress("m1", "It says");
  await r.onTextMessage("m1", "It says yes.");
  await r.finish();
  const msgs = room.messages();
  expect(msgs).toHaveLength(1); // one message for the work and the text, never one per event
  expect(msgs[0]).toMatchObject({ live: false, content: { body: "✓ search_docs\n\nIt says yes." } });
  expect(msgs[0]?.content["formatted_body"]).toBe("<p>✓ search_docs</p>\n<p>It says yes.</p>");
  expect(r.answered).toBe(1);
});

test("/toollines off: the line shows while the work runs and is gone from the finished message", async () => {
  const room = new RecordingRoom();
  const r = await renderer(room, { toolLines: false, details: false });
  r.onWork(start("c1", "calculator"));
  await waitUntil(() => room.events.length === 1, "the line posted");
  r.onWork(result("c1", "4"));
  r.onTextStart("m1");
  await r.onTextMessage("m1", "It is 4.");
  await r.finish();
  expect(bodies(room)[0]).toBe("🔧 calculator…");
  expect(room.messages()).toEqual([expect.objectContaining({ live: false, content: expect.objectContaining({ body: "It is 4." }) })]);
});

test("/details on: arguments, result and the thinking part folded; reasoning alone never shows with details off", async () => {
  const hidden = new RecordingRoom();
  const r0 = await renderer(hidden);
  r0.onWork({ kind: "reasoning", messageId: "r", delta: "secret musings" });
  r0.onTextStart("m1");
  await r0.onTextMessage("m1", "Answer.");
  await r0.finish();
  expect(JSON.stringify(hidden.events)).not.toContain("musings");

  const room = new RecordingRoom();
  const r = await renderer(room, { toolLines: true, details: true });
  r.onWork({ kind: "reasoning", messageId: "r", delta: "I should compute." });
  r.onWork(start("c1", "calculator"));
  r.onWork(args("c1", '{"expression":"2+2"}'));
  r.onWork(result("c1", "4"));
  r.onTextStart("m1");
  await r.onTextMessage("m1", "It is 4.");
  await r.finish();
  const [msg] = room.messages();
  const html = String(msg?.content["formatted_body"]);
  expect(html).toContain("<details><summary>💭 Thinking</summary><blockquote>I should compute.</blockquote></details>");
  expect(html).toContain('<details><summary>✓ calculator</summary><p>Arguments</p><pre><code>{\n  "expression": "2+2"\n}</code></pre><p>Result</p><pre><code>4</code></pre></details>');
  expect(String(msg?.content["body"])).toMatch(/^✓ calculator\n\n💭 Thinking\n {2}I should compute\.\n\n✓ calculator\n {2}Arguments:[\s\S]*\n\nIt is 4\.$/);
});

test("a message whose text ends while its tool still runs is finished once the tool is", async () => {
  const room = new RecordingRoom();
  const r = await renderer(room);
  r.onWork(start("c1", "slow_tool"));
  r.onTextStart("m1");
  await r.onTextMessage("m1", "Done soon.");
  await waitUntil(() => room.events.length >= 1, "something shown");
  expect(room.messages().every((m) => m.live)).toBe(true);
  r.onWork(result("c1", "ok"));
  await r.finish();
  expect(room.messages()).toEqual([expect.objectContaining({ live: false, content: expect.objectContaining({ body: "✓ slow_tool\n\nDone soon." }) })]);
});

test("the run failed while a tool ran: its line says so; work that led to no text keeps its lines in a message of its own", async () => {
  const room = new RecordingRoom();
  const r = await renderer(room, { toolLines: false, details: false });
  r.onTextStart("m1");
  await r.onTextMessage("m1", "Let me look.");
  r.onWork(start("c1", "search"));
  r.onWork(start("c2", "fetch"));
  r.onWork(result("c2", "", "HTTP 503"));
  await r.finish(false);
  expect(room.messages().map((m) => [m.live, m.content["body"]])).toEqual([
    [false, "Let me look."],
    [false, "✗ search: not finished · ✗ fetch: HTTP 503"],
  ]);
});

test("a room that does not stream: the work lines come with the answer, and work without text is posted alone", async () => {
  const room = new RecordingRoom();
  const r = await renderer(room, { toolLines: true, details: false }, false);
  r.onWork(start("c1", "current_time"));
  r.onWork(result("c1", "12:00"));
  r.onTextStart("m1");
  await r.onTextMessage("m1", "It is noon.");
  r.onWork(start("c2", "calculator"));
  r.onWork(result("c2", "", "division by zero"));
  await r.finish();
  expect(room.events.some((e) => LIVE_MARKER in e.content)).toBe(false);
  expect(room.messages().map((m) => m.content["body"])).toEqual(["✓ current_time\n\nIt is noon.", "✗ calculator: division by zero"]);
});
