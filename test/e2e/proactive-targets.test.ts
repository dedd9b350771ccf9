// DESIGN.md's one rule for proactive targets, on both paths (an agent-initiated run, POST /proactive): `*` reaches
// the rooms opted in when the run is recorded; a room id or thread key reaches that room if the bot is joined,
// opted in or not; an unknown or unjoined target is refused: 404 {errcode, error} for POST, a permanent nack for
// the agent (which then drops the run), and nothing is posted anywhere.
import { encodeThreadKey } from "../../src/rooms/thread-key";
import { copiesPerRoom } from "../support/fanout-world";
import { Scenario } from "../support/scenario";

const TOKEN = "push-secret-token";

describe("proactive targets", () => {
  let s: Scenario;
  afterEach(async () => s?.stop());

  /** A DM opted in, a group room not opted in, and a room the bot has left. */
  async function world(): Promise<{ opted: string; notOpted: string; left: string }> {
    s = await Scenario.start({ mode: "client", externalAgent: true, env: { PROACTIVE_TOKEN: TOKEN } });
    const opted = await s.openDm();
    await s.alice.sendText(opted, "!proactive on");
    await s.waitBotMessages(opted, 1, "the opt-in confirmation");
    const notOpted = await s.openGroup(s.alice);
    const left = await s.openGroup(s.alice);
    s.hs.leave(s.botUserId, left);
    return { opted, notOpted, left };
  }

  async function post(body: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`http://127.0.0.1:${s.bot.app.httpPort}/proactive`, { method: "POST", body: JSON.stringify(body),
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it("POST /proactive: * to the opted-in rooms, a named joined room or thread key there, anything else 404", async () => {
    const { opted, notOpted, left } = await world();
    expect(await post({ messages: ["to everyone"] })).toMatchObject({ status: 202, body: { rooms: 1 } });
    expect(await post({ target: notOpted, messages: ["by room id"] })).toMatchObject({ status: 202, body: { rooms: 1 } });
    const threadKey = encodeThreadKey({ roomId: notOpted, generation: 0 });
    expect(await post({ target: threadKey, messages: ["by thread key"] })).toMatchObject({ status: 202, body: { rooms: 1 } });
    await s.hs.waitFor(() => copiesPerRoom(s, [opted], "to everyone").get(opted) === 1, { what: "* delivered" });
    await s.hs.waitFor(() => copiesPerRoom(s, [notOpted], "by thread key").get(notOpted) === 1, { what: "the thread key delivered" });
    expect(copiesPerRoom(s, [notOpted], "by room id").get(notOpted)).toBe(1);
    expect(copiesPerRoom(s, [notOpted], "to everyone").get(notOpted)).toBe(0);

    for (const target of [left, "!unknown:localhost", encodeThreadKey({ roomId: "!unknown:localhost", generation: 0 }), "hello"]) {
      const refused = await post({ target, messages: ["refused"] });
      expect(refused).toEqual({ status: 404, body: { errcode: "M_NOT_FOUND", error: expect.any(String) } });
    }
    expect((await post({ target: left, messages: ["refused"] })).body["error"]).toContain(left);
    await s.quiet();
    for (const roomId of [opted, notOpted, left]) expect(copiesPerRoom(s, [roomId], "refused").get(roomId)).toBe(0);
  });

  it("agent-initiated runs: the same rule; an unjoined or unknown target is nacked for good and posted nowhere", async () => {
    const { opted, notOpted, left } = await world();
    await s.agent?.emitProactive(encodeThreadKey({ roomId: notOpted, generation: 0 }), "a reminder asked for here");
    await s.hs.waitFor(() => copiesPerRoom(s, [notOpted], "a reminder asked for here").get(notOpted) === 1, { what: "the reminder" });
    for (const target of [left, "!unknown:localhost"]) {
      const { runId } = await s.agent!.emitProactive(target, "nowhere");
      await s.bot.logs.waitFor((l) => l.runId === runId && /refused/.test(l.msg ?? ""), `the refusal of ${target}`);
    }
    await s.hs.waitFor(() => s.agentJournal.size() === 0, { what: "the agent dropped every run (acked or nacked for good)" });
    await s.quiet();
    for (const roomId of [opted, notOpted, left]) expect(copiesPerRoom(s, [roomId], "nowhere").get(roomId)).toBe(0);
  });
});
