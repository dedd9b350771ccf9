// Live answers end to end: a scripted agent (protocol v1 or v2) that streams a long answer into the bot and paces
// itself on what the homeserver double recorded (it sends its next delta once the bot's last one shows, and holds
// its final delta until at least 3 intermediate edits are in), and checks on what the double stored.
import { renderMarkdown } from "../../../src/matrix/format";
import { LIVE_MARKER } from "../../../src/render/live-content";
import { INTRO_MARKER } from "../../../src/rooms/lifecycle/records";
import { foldEdits, isIntroduction, replacedEventId } from "../../support/bot-messages";
import type { Homeserver } from "../../support/homeserver";
import type { ClientEvent } from "../../support/homeserver/types";
import type { PeerMessage } from "../../support/js-sdk-peer";
import { startScriptedAgent, type ScriptedAgent, type ScriptedConn } from "../../support/scripted-agent";

/**
 * Timings of live answers in tests (production: 1 s and 3 s). The agent here waits on the bot between deltas, so
 * the run's idle and deadline limits and the link's pong limit are generous: a busy machine must not end a run.
 */
export const LIVE_TEST_ENV = {
  STREAM_EDIT_INTERVAL_MS: "40", STREAM_SLOW_EDIT_INTERVAL_MS: "80",
  RUN_IDLE_TIMEOUT_MS: "30000", RUN_DEADLINE_MS: "120000", AGENT_PONG_TIMEOUT_MS: "10000", AGENT_HEARTBEAT_MS: "5000",
};

/** An edit that ends a message "(interrupted)" (the recovery after a crash, or a run that failed). */
export function isInterruptedEdit(e: ClientEvent): boolean {
  const content = e.content["m.new_content"] as Record<string, unknown> | undefined;
  return content !== undefined && String(content["body"]).endsWith("(interrupted)");
}

/** An answer of `words` words in paragraphs of 50, with some markdown. */
export function longAnswer(words: number): string {
  const paragraphs: string[] = [];
  for (let w = 0, p = 0; w < words; p += 1) {
    const n = Math.min(50, words - w);
    const text = Array.from({ length: n }, (_, i) => (i === 3 ? `**word${w + i}**` : `word${w + i}`)).join(" ");
    paragraphs.push(`P${p}: ${text}.`);
    w += n;
  }
  return paragraphs.join("\n\n");
}

/** The bot's message events in a room as stored (encrypted or not), edits included, its introduction left out. */
export function botEvents(hs: Homeserver, roomId: string, botUserId: string): ClientEvent[] {
  return hs.sent({ roomId, sender: botUserId }).filter((e) => e.state_key === undefined && !isIntroduction(e));
}

const newContent = (e: ClientEvent): Record<string, unknown> | undefined => e.content["m.new_content"] as Record<string, unknown> | undefined;

/** Edits still marked live (MSC4357): the intermediate ones. An encrypted edit (its relation is in the clear,
 *  its content is not) counts too: the agent paces on it, the test checks what the client decrypts. */
export function liveEdits(events: readonly ClientEvent[]): ClientEvent[] {
  return events.filter((e) => replacedEventId(e.content) !== undefined && (e.type === "m.room.encrypted" || LIVE_MARKER in (newContent(e) ?? {})));
}

/** The room id a run frame is for (v1 context object, v2 context entries). */
function roomOf(frame: Record<string, unknown>): string {
  const context = (frame.input as { context?: unknown }).context;
  if (Array.isArray(context)) return String((context as Array<{ description: string; value: string }>).find((c) => c.description === "roomId")?.value);
  return String((context as { roomId?: unknown }).roomId);
}

export interface StreamingAgentOptions {
  protocol: 1 | 2;
  hs: Homeserver;
  botUserId: string;
  /** The answer to a run (per run frame: the first, the second, … run). */
  answer(runIndex: number): string | { error: string };
  /** Deltas per answer (the last one is held until 3 intermediate edits were recorded). Default 20. */
  deltas?: number;
  /** Wait for the bot's events between deltas (false: all deltas at once, for rooms that do not stream). Default true. */
  paced?: boolean;
  /** Before the first delta (e.g. wait for the placeholder). */
  before?(roomId: string): Promise<void>;
  /** The AG-UI capabilities a v2 ready declares (default: the scripted agent's, streaming only). */
  capabilities?: Record<string, unknown>;
}

/** A scripted agent streaming `answer` to every run, paced on the double (see the module comment). */
export async function startStreamingAgent(opts: StreamingAgentOptions): Promise<ScriptedAgent> {
  let runs = 0;
  return startScriptedAgent({
    protocol: opts.protocol,
    ...(opts.capabilities ? { capabilities: opts.capabilities } : {}),
    onFrame: (conn, frame) => {
      if (frame.op !== "run") return;
      const index = runs++;
      void stream(conn, frame, opts, index).catch(() => undefined); // a dropped connection ends it
    },
  });
}

async function stream(conn: ScriptedConn, frame: Record<string, unknown>, opts: StreamingAgentOptions, index: number): Promise<void> {
  const runId = String(frame.runId);
  const threadId = String(frame.threadId);
  const roomId = roomOf(frame);
  const names = conn.version === 2 ? { threadId, runId } : {};
  const open = (): boolean => conn.ws.readyState === conn.ws.OPEN;
  const waitFor = (probe: () => boolean, what: string): Promise<unknown> =>
    opts.hs.waitFor(() => probe() || !open(), { what, timeoutMs: 30_000, intervalMs: 5 });
  conn.event(runId, { type: "RUN_STARTED", ...names });
  const answer = opts.answer(index);
  if (typeof answer !== "string") {
    conn.event(runId, { type: "RUN_ERROR", code: "internal", message: answer.error });
    return;
  }
  await opts.before?.(roomId);
  const count = opts.deltas ?? 20;
  const size = Math.ceil(answer.length / count);
  const chunks = Array.from({ length: count }, (_, i) => answer.slice(i * size, (i + 1) * size)).filter((c) => c !== "");
  const events = (): number => botEvents(opts.hs, roomId, opts.botUserId).length;
  conn.event(runId, { type: "TEXT_MESSAGE_START", messageId: "m1" });
  for (const chunk of chunks.slice(0, -1)) {
    const before = events();
    conn.event(runId, { type: "TEXT_MESSAGE_CONTENT", messageId: "m1", delta: chunk });
    if (opts.paced !== false) await waitFor(() => events() > before, "the bot to show the delta");
    if (!open()) return;
  }
  if (opts.paced !== false) await waitFor(() => liveEdits(botEvents(opts.hs, roomId, opts.botUserId)).length >= 3, "3 intermediate edits");
  if (!open()) return;
  conn.event(runId, { type: "TEXT_MESSAGE_CONTENT", messageId: "m1", delta: chunks[chunks.length - 1] ?? "" });
  conn.event(runId, { type: "TEXT_MESSAGE_END", messageId: "m1" });
  conn.event(runId, { type: "RUN_FINISHED", ...names });
}

/** Every message of the answer is written (not live) and the last one holds the answer's end. */
export function answered(hs: Homeserver, roomId: string, botUserId: string, answer: string): boolean {
  const msgs = foldEdits(botEvents(hs, roomId, botUserId).filter((e) => e.type === "m.room.message"));
  const end = answer.slice(-40);
  return msgs.length > 0 && msgs.every((m) => !m.live) && String(msgs.at(-1)?.content["body"]).endsWith(end);
}

/**
 * What a streamed answer must look like once written: every message's first event marked live, its final edit
 * not, at most `maxEdits` edits per message, the texts together the whole answer, each rendered as markdown.
 */
export function expectStreamedAnswer(events: readonly ClientEvent[], answer: string, maxEdits = 50): ReturnType<typeof foldEdits<ClientEvent>> {
  const msgs = foldEdits(events.filter((e) => e.type === "m.room.message"));
  for (const m of msgs) {
    const original = events.find((e) => e.event_id === m.event_id);
    expect(original?.content).toHaveProperty([LIVE_MARKER]);
    expect(m.edits.length).toBeLessThanOrEqual(maxEdits);
    expect(m.live).toBe(false);
    const last = m.edits.at(-1);
    if (last) expect(newContent(last)).not.toHaveProperty([LIVE_MARKER]);
    expect(m.content["formatted_body"]).toBe(renderMarkdown(String(m.content["body"])).formatted_body);
  }
  for (const e of events) expect(Buffer.byteLength(JSON.stringify(e), "utf8")).toBeLessThan(65_536);
  expect(msgs.map((m) => String(m.content["body"])).join("\n\n")).toBe(answer);
  return msgs;
}

/** The bot's messages as a real client decrypted them, its introduction left out, each as sent (no edit applied). */
export function decryptedAsSent(messages: readonly PeerMessage[], botUserId: string): PeerMessage[] {
  return messages.filter((m) => m.sender === botUserId && m.originalContent[INTRO_MARKER] !== true).map((m) => ({ ...m, content: m.originalContent }));
}

/** Whether the client shows the whole answer written (every message's latest edit no longer live, the end there). */
export function decryptedAnswerWritten(mine: readonly PeerMessage[], answer: string): boolean {
  const msgs = foldEdits(mine.map((m) => ({ ...m, event_id: m.eventId })));
  return msgs.length > 0 && msgs.every((m) => !m.live) && String(msgs.at(-1)?.content["body"]).endsWith(answer.slice(-40));
}

/**
 * A live answer in an encrypted room: the homeserver stored nothing in the clear, every event under the size limit
 * as ciphertext; the client decrypted everything: first events marked live, at least 3 live edits, final edits not
 * marked, the whole answer.
 */
export function expectEncryptedLiveAnswer(hs: Homeserver, roomId: string, botUserId: string, mine: readonly PeerMessage[], answer: string): void {
  const stored = botEvents(hs, roomId, botUserId);
  expect(stored.map((e) => e.type).filter((t) => t !== "m.room.encrypted")).toEqual([]);
  for (const e of stored) expect(Buffer.byteLength(JSON.stringify(e), "utf8")).toBeLessThan(65_536);
  expect(mine.every((m) => m.encrypted && !m.decryptionFailure)).toBe(true);
  const msgs = foldEdits(mine.map((m) => ({ ...m, event_id: m.eventId })));
  for (const m of msgs) {
    expect(mine.find((x) => x.eventId === m.event_id)?.content).toHaveProperty([LIVE_MARKER]);
    expect((m.edits.at(-1)?.content["m.new_content"] as Record<string, unknown>)).not.toHaveProperty([LIVE_MARKER]);
  }
  const edits = mine.filter((m) => replacedEventId(m.content) !== undefined && LIVE_MARKER in (m.content["m.new_content"] as object));
  expect(edits.length).toBeGreaterThanOrEqual(3);
  expect(msgs.map((m) => String(m.content["body"])).join("\n\n")).toBe(answer);
}
