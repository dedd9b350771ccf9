// Threads, edits and redactions (issue 19) and the agent's visible work (issue 21) on Synapse, client mode: one bot
// (its own account, ALLOWED_USERS naming Alice and Bob only, so that the room moderator is not an allowed user) and
// one agent serve every scenario. The agent is the reference agent over its real WebSocket (protocol v2) with a brain
// that holds the runs a scenario holds ("working on: …" live until released or cancelled), answers
// "answered: <contents>" (in N messages when asked "in N parts"), and for "tool: …" calls search_docs, waits until
// the scenario saw the call running, then gives its result and the answer. Each check is made on what Alice's
// matrix-js-sdk client sees; "exactly once" on the homeserver's history after the bot reports idle. On Synapse 1.67
// a message redacted before the bot synced it may reach the bot already redacted: either path must end the same.
import type { AgentBrain } from "../../src/reference-agent/brain";
import { ANSWER, changesBrain, edit } from "../e2e/threads/changes-support";
import { MatrixTestUser } from "../support/matrix-test-user";
import type { PeerMessage } from "../support/js-sdk-peer";
import { say } from "../support/brains";
import { waitFor } from "../support/wait";
import { ScenarioAgent } from "./support/brain";
import { isRedacted, messagesBy, ModeWorld, threadOf, type ReadMessage } from "./support/world";

const TOOL_ANSWER = "Here is what I found.";
const TOOL_RUNNING = "🔧 search_docs…";
const TOOL_DONE = "✓ search_docs";

/** Resolves the "tool:" run waiting for it: the scenario saw the call running. */
class ToolGate {
  private open: (() => void) | undefined;
  get waiting(): boolean {
    return this.open !== undefined;
  }
  wait(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.open = resolve;
      signal.addEventListener("abort", () => reject(new Error("aborted")), { once: true });
    }).finally(() => (this.open = undefined));
  }
  release(): void {
    if (!this.open) throw new Error("no tool run is waiting");
    this.open();
  }
}

const changes = changesBrain();
const gate = new ToolGate();
const brain: AgentBrain = {
  async run(input, out, signal, info) {
    if (!(input.messages.at(-1)?.content ?? "").startsWith("tool:")) return changes.brain.run(input, out, signal, info);
    out.toolCallStart?.("c1", "search_docs");
    out.toolCallArgs?.("c1", '{"query":"matrix"}');
    out.toolCallEnd?.("c1");
    await gate.wait(signal);
    out.toolCallResult?.("c1", "3 pages found");
    say(out, TOOL_ANSWER);
  },
};

describe("threads, edits, redactions and tool lines on Synapse (client mode)", () => {
  let w: ModeWorld;
  let group = "";
  let root = "";
  let dm = "";

  /** The bot's message in `thread` (undefined: the main timeline) that Alice's client shows as `probe` accepts. */
  const botSays = (roomId: string, thread: string | undefined, probe: (m: ReadMessage) => boolean, what: string): Promise<ReadMessage> =>
    w.alice.peer.waitMessages(roomId, (ms) => shown(ms).find((m) => threadOf(m.content) === thread && probe(m)), what);
  const shown = (ms: PeerMessage[]): ReadMessage[] => {
    const redacted = new Set(ms.filter(isRedacted).map((m) => m.eventId));
    return messagesBy(ms.filter((m) => !redacted.has(m.eventId)), w.botUserId);
  };
  const answered = (roomId: string, thread: string | undefined, body: string): Promise<ReadMessage> =>
    botSays(roomId, thread, (m) => m.body === body && !m.live, `"${body}" from the bot ${thread ? "in the thread" : "in the main timeline"}`);
  /** After the bot reports idle: its messages in the room as Alice's client shows them, with the thread each is in. */
  const settled = async (roomId: string): Promise<Array<[string, string | undefined]>> =>
    (await w.settledBotMessages(roomId)).map((m) => [m.body, threadOf(m.content)]);
  /** Every event of the bot in the room (originals and edits), and whether Synapse redacted it. */
  const botEvents = async (roomId: string): Promise<Array<{ id: string; redacted: boolean; replaces?: string }>> =>
    (await w.alice.peer.history(roomId)).filter((m) => m.sender === w.botUserId && m.type === "m.room.message").map((m) => ({
      id: m.eventId, redacted: isRedacted(m),
      ...(m.originalContent["m.new_content"] ? { replaces: (m.originalContent["m.relates_to"] as { event_id: string }).event_id } : {}),
    }));

  beforeAll(async () => {
    w = await ModeWorld.open("client", { account: "threadbot", agent: new ScenarioAgent(brain), label: "threads",
      env: { ALLOWED_USERS: "@alice:localhost,@bob:localhost" } });
  });
  afterAll(async () => {
    await w?.close();
  });

  it("a command sent in a thread is answered in that thread, as a reply to it", async () => {
    group = await w.openGroup("Trip");
    root = await w.alice.http.sendText(group, "Let's plan the trip"); // not for the bot
    const command = await w.alice.http.sendThreadReply(group, root, "!threads");
    const notice = await botSays(group, root, (m) => /^Threads here: follow/.test(m.body), "the /threads notice in the thread");
    expect(notice.content["m.relates_to"]).toEqual({ rel_type: "m.thread", event_id: root, is_falling_back: true, "m.in_reply_to": { event_id: command } });
    expect(notice.content["msgtype"]).toBe("m.notice");
    expect(await settled(group)).toEqual([[notice.body, root]]);
    expect(changes.runs).toEqual([]);
  });

  it("a thread it was asked in is followed: an unaddressed follow-up there from an allowed user is answered there", async () => {
    await w.alice.http.sendThreadReply(group, root, "Agent Bot: where to?", w.mention("where to?"));
    await answered(group, root, ANSWER("Agent Bot: where to?"));
    const followUp = await w.alice.http.sendThreadReply(group, root, "and when?"); // no mention
    const answer = await answered(group, root, ANSWER("and when?"));
    expect(answer.content["m.relates_to"]).toMatchObject({ rel_type: "m.thread", event_id: root, "m.in_reply_to": { event_id: followUp } });
    expect((await settled(group)).slice(1)).toEqual([[ANSWER("Agent Bot: where to?"), root], [ANSWER("and when?"), root]]);
  });

  it("an edit of the question being answered: the answer carries the edited text, in the same message", async () => {
    dm = await w.openDm();
    changes.hold("helo");
    const question = await w.alice.http.sendText(dm, "helo wrold");
    const live = await botSays(dm, undefined, (m) => m.live && m.body.startsWith("working on: helo wrold"), "the held run's live message");
    await edit(w.alice.http, dm, question, "hello world");
    const answer = await answered(dm, undefined, ANSWER("hello world"));
    expect(answer.eventId).toBe(live.eventId);
    expect(changes.runsWith("helo")[0]?.cancelled).toBe(true);
    expect(changes.runs.slice(-2).map((r) => r.contents)).toEqual([["helo wrold"], ["hello world"]]);
    expect(changes.runs.at(-1)?.input.messages[0]).toMatchObject({ content: "hello world", replaces: question });
    expect(await settled(dm)).toEqual([[ANSWER("hello world"), undefined]]);
    changes.release();
  });

  it("an edit of the question after its answer: the same answer is edited, and the agent is told what it replaces", async () => {
    const question = await w.alice.http.sendText(dm, "what is 2+2");
    const first = await answered(dm, undefined, ANSWER("what is 2+2"));
    await w.bot.waitForIdle(); // the run is over: the edit comes after the answer
    const editId = await edit(w.alice.http, dm, question, "what is 3+3");
    const again = await answered(dm, undefined, ANSWER("what is 3+3"));
    expect(again.eventId).toBe(first.eventId);
    expect(changes.runs.at(-1)?.input.messages).toEqual([expect.objectContaining({ id: editId, content: "what is 3+3", replaces: question })]);
    expect(await settled(dm)).toEqual([[ANSWER("hello world"), undefined], [ANSWER("what is 3+3"), undefined]]);
    expect((await botEvents(dm)).filter((e) => e.replaces === first.eventId).length).toBeGreaterThan(0);
  });

  it("a question redacted while it is answered: the run is cancelled and the live message redacted", async () => {
    changes.hold("doomed");
    const question = await w.alice.http.sendText(dm, "doomed question");
    const live = await botSays(dm, undefined, (m) => m.live && m.body.startsWith("working on: doomed"), "the held run's live message");
    await w.alice.http.redact(dm, question);
    await waitFor(() => changes.runsWith("doomed")[0]?.cancelled === true, { what: "the run cancelled", timeoutMs: 30_000 });
    await w.alice.peer.waitMessages(dm, (ms) => ms.find((m) => m.eventId === live.eventId && isRedacted(m)), "the live message redacted");
    expect(await settled(dm)).toEqual([[ANSWER("hello world"), undefined], [ANSWER("what is 3+3"), undefined]]);
    expect((await botEvents(dm)).find((e) => e.id === live.eventId)?.redacted).toBe(true);
    changes.release();
  });

  it("a question redacted after its answer: every message of the answer is redacted", async () => {
    const question = await w.alice.http.sendText(dm, "answer in 2 parts");
    await answered(dm, undefined, "part 2");
    const parts = (await w.settledBotMessages(dm)).slice(-2);
    expect(parts.map((m) => m.body)).toEqual([ANSWER("answer in 2 parts"), "part 2"]);
    await w.alice.http.redact(dm, question);
    await w.alice.peer.waitMessages(dm, (ms) => parts.every((p) => ms.some((m) => m.eventId === p.eventId && isRedacted(m))) || undefined,
      "both messages of the answer redacted");
    expect(await settled(dm)).toEqual([[ANSWER("hello world"), undefined], [ANSWER("what is 3+3"), undefined]]);
  });

  it("a room moderator who is not an allowed user redacts an answered question: the answer is redacted", async () => {
    const mod = await MatrixTestUser.login(w.run.url, "mod", w.run.users.mod.password);
    const room = await w.alice.peer.createRoom({ preset: "private_chat", name: "Moderated", invite: [mod.userId],
      power_level_content_override: { users: { [w.aliceId]: 100, [mod.userId]: 50 } } });
    await mod.join(room);
    await w.alice.peer.waitMember(room, mod.userId, "join", 30_000);
    await w.alice.peer.invite(room, w.botUserId);
    await w.waitIntroduced(room);
    const question = await w.alice.http.sendText(room, "Agent Bot: spam?", w.mention("spam?"));
    const answer = await answered(room, undefined, ANSWER("Agent Bot: spam?"));
    await w.bot.waitForIdle();
    await mod.redact(room, question, "spam");
    await w.alice.peer.waitMessages(room, (ms) => ms.find((m) => m.eventId === answer.eventId && isRedacted(m)), "the answer redacted");
    expect(await settled(room)).toEqual([]);
  });

  it("a tool call is shown live (🔧 search_docs…), then the same message is edited to ✓ search_docs above the answer", async () => {
    const text = "tool: look it up";
    await w.alice.http.sendText(dm, text);
    const running = await botSays(dm, undefined, (m) => m.live && m.body.includes(TOOL_RUNNING), `the live "${TOOL_RUNNING}"`);
    expect(running.body).not.toContain(TOOL_ANSWER);
    await waitFor(() => gate.waiting, { what: "the tool call waiting for its result", timeoutMs: 30_000 });
    gate.release();
    const done = await answered(dm, undefined, `${TOOL_DONE}\n\n${TOOL_ANSWER}`);
    expect(done.eventId).toBe(running.eventId);
    expect(String(done.content["formatted_body"])).not.toContain("<details>");
    expect((await settled(dm)).slice(2)).toEqual([[`${TOOL_DONE}\n\n${TOOL_ANSWER}`, undefined]]);
    expect((await botEvents(dm)).filter((e) => e.replaces === running.eventId).length).toBeGreaterThan(0);
  });

  it("/details on: the answer's tool line folds the call's arguments and result in <details>", async () => {
    await w.alice.http.sendText(dm, "/details on");
    await botSays(dm, undefined, (m) => m.body.startsWith("Details are now on here"), "the /details reply");
    await w.alice.http.sendText(dm, "tool: with details");
    const running = await botSays(dm, undefined, (m) => m.live && m.body.includes(TOOL_RUNNING), `the live "${TOOL_RUNNING}"`);
    await waitFor(() => gate.waiting, { what: "the tool call waiting for its result", timeoutMs: 30_000 });
    gate.release();
    const done = await botSays(dm, undefined, (m) => m.eventId === running.eventId && !m.live, "the detailed answer, written");
    expect(done.body.startsWith(TOOL_DONE) && done.body.endsWith(TOOL_ANSWER)).toBe(true);
    const html = String(done.content["formatted_body"]);
    expect(html).toContain(`<details><summary>${TOOL_DONE}</summary>`);
    expect(html).toContain("<pre><code>3 pages found</code></pre>");
    expect((await settled(dm)).length).toBe(5);
  });
});
