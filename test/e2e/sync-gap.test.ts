// Client mode: messages sent while the bot was away exceed the sync timeline limit (timeline.limited); the bot
// fills the gap from /messages back to the last event it had seen, so every message reaches the agent once.
import type { AgentBrain } from "../../src/reference-agent/brain";
import { Scenario } from "../support/scenario";

describe("a sync gap after downtime", () => {
  let s: Scenario;
  afterEach(async () => s?.stop());

  it("fills timeline.limited from /messages and hands every missed message to the agent exactly once", async () => {
    const received: string[] = [];
    const brain: AgentBrain = {
      async run(input, out) {
        received.push(...input.messages.map((m) => m.content));
        const id = out.startMessage();
        out.delta(id, `got ${input.messages.length}`);
        out.endMessage(id);
      },
    };
    s = await Scenario.start({ mode: "client", brain, env: { TURN_QUEUE_LIMIT: "200" } });
    const roomId = await s.openDm();
    await s.alice.sendText(roomId, "before the gap");
    await s.waitBotMessages(roomId, 1);

    await s.stopBot();
    const missed = Array.from({ length: 70 }, (_, i) => `missed ${i}`);
    for (const text of missed) await s.alice.sendText(roomId, text);
    await s.startBot();

    await s.hs.waitFor(() => received.length >= 71, { what: "all missed messages at the agent" });
    await s.expectSteady(() => expect(received).toEqual(["before the gap", ...missed]));
    const paged = s.hs.requests.filter((r) => r.path.includes("/messages") && r.userId === s.botUserId);
    expect(paged.length).toBeGreaterThan(0);
  });
});
