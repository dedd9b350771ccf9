// The agent's prompts on Synapse 1.67 (issue 24), in either mode, seen from Alice's matrix-js-sdk client: an approval
// with the bot's ✅/❌ reactions, approved by Alice's reaction (a second one does nothing); a choice as an MSC3381 poll
// that Alice's vote answers and the bot ends. The agent is the reference agent over its real WebSocket (protocol v2)
// with a brain that pauses ("approve: …" → an approval, "choose: …" → a choice) and answers a resume run with the
// answers it got.
import type { AgentBrain } from "../../../src/reference-agent/brain";
import { say } from "../../support/brains";
import type { Mode } from "./bot";
import { ScenarioAgent } from "./brain";
import { messagesBy, ModeWorld, type WorldOptions } from "./world";

const brain: AgentBrain = {
  async run(input, out) {
    if (input.resume !== undefined) return say(out, `resumed: ${JSON.stringify(input.resume)}`);
    const text = input.messages.at(-1)?.content ?? "";
    out.interrupt?.([text.startsWith("choose:")
      ? { id: "day", reason: "choose", message: "Which day?", responseSchema: { type: "string", enum: ["Monday", "Friday"] } }
      : { id: "send", reason: "tool_approval", message: "Send the mail?", toolCallId: "c1", metadata: { toolCallName: "send_mail", arguments: { to: "bob" } } }]);
  },
};

/**
 * The prompts' scenarios on a world of their own in `mode`. `vote`: the poll response's form Alice sends (the unstable
 * `org.matrix.msc3381.poll.response`, or the stable `m.poll.response` that matrix-js-sdk sends).
 */
export function describePrompts(mode: Mode, world: () => WorldOptions, vote: "unstable" | "stable"): void {
  describe(`the agent's prompts on Synapse (${mode} mode)`, () => {
    let w: ModeWorld;
    let dm = "";
    beforeAll(async () => {
      w = await ModeWorld.open(mode, { agent: new ScenarioAgent(brain), ...world() });
      dm = await w.openDm();
    });
    afterAll(async () => {
      await w?.close();
    });

    const resumed = (): Promise<string[]> => w.settledBotBodies(dm).then((bodies) => bodies.filter((b) => b.startsWith("resumed:")));

    it("an approval: the bot's ✅ and ❌, Alice's ✅ approves, the run resumes once; her second reaction does nothing", async () => {
      await w.alice.http.sendText(dm, "approve: mail Bob");
      const prompt = await w.alice.peer.waitMessages(dm, (ms) => messagesBy(ms, w.botUserId).find((m) => m.body.startsWith("🔐")), "the prompt");
      expect(prompt.body).toContain("send_mail");
      const reactions = await w.alice.peer.waitMessages(dm, (ms) => {
        const r = ms.filter((m) => m.sender === w.botUserId && m.type === "m.reaction");
        return r.length === 2 ? r : undefined;
      }, "the bot's reactions");
      expect(reactions.map((r) => (r.content["m.relates_to"] as Record<string, unknown>)["key"])).toEqual(["✅", "❌"]);
      await w.alice.http.send(dm, "m.reaction", { "m.relates_to": { rel_type: "m.annotation", event_id: prompt.eventId, key: "✅" } });
      await w.waitAnswer(dm, 'resumed: [{"interruptId":"send","status":"resolved","payload":{"approved":true}}]');
      // Her display name on Synapse is her localpart.
      await w.alice.peer.waitMessages(dm, (ms) => messagesBy(ms, w.botUserId).find((m) => m.eventId === prompt.eventId && /✅ approved by alice/i.test(m.body)),
        "the prompt's outcome");
      await w.alice.http.send(dm, "m.reaction", { "m.relates_to": { rel_type: "m.annotation", event_id: prompt.eventId, key: "❌" } });
      expect(await resumed()).toHaveLength(1);
    });

    it(`a choice: an MSC3381 poll, Alice's vote (${vote} form) answers it, the bot ends the poll and the run resumes`, async () => {
      await w.alice.http.sendText(dm, "choose: a day");
      const poll = await w.alice.peer.waitMessages(dm, (ms) => ms.find((m) => m.sender === w.botUserId && m.type === "org.matrix.msc3381.poll.start"), "the poll");
      const start = poll.content["org.matrix.msc3381.poll.start"] as { answers: Array<Record<string, unknown>> };
      expect(start.answers.map((a) => a["org.matrix.msc1767.text"])).toEqual(["Monday", "Friday"]);
      const type = vote === "stable" ? "m.poll.response" : "org.matrix.msc3381.poll.response";
      await w.alice.http.send(dm, type, { "m.relates_to": { rel_type: "m.reference", event_id: poll.eventId }, [type]: { answers: [start.answers[1]?.["id"]] } });
      await w.waitAnswer(dm, 'resumed: [{"interruptId":"day","status":"resolved","payload":"Friday"}]');
      await w.alice.peer.waitMessages(dm, (ms) => ms.find((m) => m.sender === w.botUserId && m.type === "org.matrix.msc3381.poll.end"), "the poll's end");
      expect(await resumed()).toHaveLength(2);
    });
  });
}
