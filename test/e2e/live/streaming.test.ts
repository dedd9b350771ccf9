// Answers shown as they are written, against the homeserver double with a scripted agent that streams a
// 5,000-word answer and holds its final delta until the double recorded 3 intermediate edits: the live marker
// on each message's first event and not on its final edit, at most 50 edits per message, the whole answer
// rendered once written; the same for a v1 agent; a 429 storm mid-stream; the placeholder taken over; threads;
// rooms that turned live messages off (MSC4357) or said /stream off get the answer whole.
import { LIVE_MARKER } from "../../../src/render/live-content";
import { foldEdits } from "../../support/bot-messages";
import { Scenario } from "../../support/scenario";
import { closeScriptedAgents, type ScriptedAgent } from "../../support/scripted-agent";
import { scaled } from "../../support/wait";
import { answered, botEvents, expectStreamedAnswer, liveEdits, LIVE_TEST_ENV, longAnswer, startStreamingAgent, type StreamingAgentOptions } from "./support";

jest.setTimeout(scaled(90_000));

describe("live answers", () => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.stop();
    s = undefined;
    await closeScriptedAgents();
  });

  /** A scenario whose bot talks to a streaming agent (the agent knows the homeserver and the bot user only then). */
  async function withAgent(opts: Omit<StreamingAgentOptions, "hs" | "botUserId">, env: Record<string, string> = {}): Promise<{ s: Scenario; agent: ScriptedAgent }> {
    const holder: { s?: Scenario } = {};
    const agent = await startStreamingAgent({
      ...opts,
      get hs() { if (!holder.s) throw new Error("no scenario yet"); return holder.s.hs; },
      get botUserId() { return holder.s?.botUserId ?? ""; },
    } as StreamingAgentOptions);
    holder.s = s = await Scenario.start({ mode: "client", env: { AGENT_URL: agent.url, ...LIVE_TEST_ENV, ...env } });
    return { s, agent };
  }

  it.each([2, 1] as const)("protocol v%s: a 5,000-word answer streams in at most 50 edits per message, live until its final edit", async (protocol) => {
    const answer = longAnswer(5_000);
    const { s } = await withAgent({ protocol, answer: () => answer });
    const roomId = await s.openDm();
    await s.alice.sendText(roomId, "tell me a long story");
    await s.hs.waitFor(() => answered(s.hs, roomId, s.botUserId, answer), { what: "the whole answer written", timeoutMs: 60_000 });
    await s.settled();
    const events = botEvents(s.hs, roomId, s.botUserId);
    const msgs = expectStreamedAnswer(events, answer);
    expect(msgs.length).toBeGreaterThanOrEqual(2); // 5,000 words outgrow one event: frozen and continued
    expect(liveEdits(events).length).toBeGreaterThanOrEqual(3);
  });

  it("a 429 storm mid-stream: edits wait at least retry_after_ms, and the final text lands exactly once", async () => {
    const answer = longAnswer(1_500);
    const { s } = await withAgent({ protocol: 2, answer: () => answer, deltas: 12 });
    const roomId = await s.openDm();
    await s.alice.sendText(roomId, "a story, through the storm");
    await s.hs.waitFor(() => botEvents(s.hs, roomId, s.botUserId).length >= 2, { what: "the stream under way" });
    s.hs.failNext({ method: "PUT", pathIncludes: "/send/m.room.message/", userId: s.botUserId },
      { status: 429, errcode: "M_LIMIT_EXCEEDED", retry_after_ms: 60 }, 25);
    await s.hs.waitFor(() => answered(s.hs, roomId, s.botUserId, answer), { what: "the whole answer written", timeoutMs: 60_000 });
    await s.expectSteady(() => {
      const msgs = expectStreamedAnswer(botEvents(s.hs, roomId, s.botUserId), answer);
      for (const m of msgs) {
        const finals = m.edits.filter((e) => !(LIVE_MARKER in (e.content["m.new_content"] as Record<string, unknown>)));
        expect(finals).toHaveLength(1); // the final text, once
      }
    });
    expect(s.hs.pendingFaults).toBe(0);
    // After a 429 the bot's next send came no sooner than retry_after_ms.
    const sends = s.hs.requests.filter((r) => r.userId === s.botUserId && r.method === "PUT" && r.path.includes("/send/"));
    sends.forEach((r, i) => {
      const next = sends[i + 1];
      if (r.status === 429 && next) expect(next.at - r.at).toBeGreaterThanOrEqual(60);
    });
    expect(sends.filter((r) => r.status === 429)).toHaveLength(25);
  });

  it("the placeholder becomes the live message", async () => {
    const answer = longAnswer(300);
    const holder: { s?: Scenario } = {};
    const { s } = await withAgent({
      protocol: 2, answer: () => answer, deltas: 6,
      before: async (roomId) => {
        const w = holder.s;
        if (!w) return;
        await w.hs.waitFor(() => botEvents(w.hs, roomId, w.botUserId).some((e) => e.content["body"] === "…"), { what: "the placeholder" });
      },
    }, { PLACEHOLDER_DELAY_MS: "30" });
    holder.s = s;
    const roomId = await s.openDm();
    await s.alice.sendText(roomId, "think first");
    await s.hs.waitFor(() => answered(s.hs, roomId, s.botUserId, answer), { what: "the answer written", timeoutMs: 30_000 });
    await s.settled();
    const events = botEvents(s.hs, roomId, s.botUserId);
    expect(events[0]?.content).toMatchObject({ msgtype: "m.notice", body: "…", [LIVE_MARKER]: {} });
    const [only] = expectStreamedAnswer(events, answer);
    expect(only?.event_id).toBe(events[0]?.event_id);
    expect(only?.content["msgtype"]).toBe("m.text");
  });

  it("in a thread of a group room: every event of the live answer stays in the thread, the first replies", async () => {
    const answer = longAnswer(4_000);
    const { s } = await withAgent({ protocol: 2, answer: () => answer });
    const room = await s.openGroup(s.alice, [s.person("bob", "Bob")]);
    const root = await s.alice.sendText(room, "a thread");
    await s.alice.sendThreadReply(room, root, "@bot tell me, in the thread", { "m.mentions": { user_ids: [s.botUserId] } });
    await s.hs.waitFor(() => answered(s.hs, room, s.botUserId, answer), { what: "the answer written", timeoutMs: 60_000 });
    await s.settled();
    const events = botEvents(s.hs, room, s.botUserId);
    const msgs = expectStreamedAnswer(events, answer);
    expect(msgs.length).toBeGreaterThanOrEqual(2);
    msgs.forEach((m, i) => {
      const original = events.find((e) => e.event_id === m.event_id);
      expect(original?.content["m.relates_to"]).toMatchObject({ rel_type: "m.thread", event_id: root });
      expect(original?.content["m.mentions"]).toEqual({ user_ids: i === 0 ? [s.alice.userId] : [] });
    });
    for (const e of events.filter((x) => !msgs.some((m) => m.event_id === x.event_id))) {
      expect(e.content["m.mentions"]).toEqual({}); // an edit notifies nobody again
    }
  });

  it.each([
    ["the room's MSC4357 state turned live messages off", async (w: Scenario, roomId: string) =>
      void w.hs.setState(w.alice.userId, roomId, "org.matrix.msc4357.live_messaging", "", { enabled: false })],
    ["the room said /stream off", async (w: Scenario, roomId: string) => {
      await w.alice.sendText(roomId, "/stream off");
      await w.waitBotMessages(roomId, 1, "the /stream reply");
    }],
  ])("%s: the answer comes whole, one event, never live", async (_what, setUp) => {
    const answer = longAnswer(200);
    const { s } = await withAgent({ protocol: 2, answer: () => answer, paced: false });
    const roomId = await s.openDm();
    await setUp(s, roomId);
    const before = botEvents(s.hs, roomId, s.botUserId).length;
    await s.alice.sendText(roomId, "just the answer, please");
    await s.hs.waitFor(() => botEvents(s.hs, roomId, s.botUserId).length > before, { what: "the answer" });
    await s.expectSteady(() => expect(botEvents(s.hs, roomId, s.botUserId).slice(before)).toHaveLength(1));
    const events = botEvents(s.hs, roomId, s.botUserId).slice(before);
    expect(events[0]?.content).not.toHaveProperty([LIVE_MARKER]);
    expect(foldEdits(events)[0]?.content["body"]).toBe(answer);
  });
});
