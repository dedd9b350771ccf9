// Issue 14's reliability target: a poison event (content with `toJSON`, `__proto__`, `then`, 900 levels of nesting,
// which once made journaling throw and held every room's delivery) costs the other rooms nothing: a DM message sent
// right after it is answered within a second, in both modes. The figure is the homeserver's own clock: the answer's
// origin_server_ts minus the question's. The untimed proof (nothing refused, the hostile message answered) is
// test/e2e/hostile/poison-event.test.ts.
import { echoReplyFor } from "../../src/reference-agent/server";
import { hostileContent } from "../support/hostile-content";
import { MODES, Scenario } from "../support/scenario";
import { printFigure } from "./support";
import { scaled } from "../support/wait";

const ANSWERED_WITHIN_MS = 1_000;
const ROUNDS = 3;

jest.setTimeout(scaled(120_000));

describe.each(MODES)("a poison event in %s mode", (mode) => {
  let s: Scenario;
  afterEach(async () => s?.stop());

  it(`holds up no other room: the DM's next message is answered within ${ANSWERED_WITHIN_MS} ms`, async () => {
    s = await Scenario.start({ mode, env: { ALLOWED_USERS: "@alice:localhost,@bob:localhost" } });
    const bob = s.person("bob", "Bob");
    const mallory = s.person("mallory", "Mallory"); // not allowed: a stranger's poison costs nothing either
    const dm = await s.openDm();
    const group = await s.openGroup(bob, [mallory]);

    const latencies: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      await mallory.send(group, "m.room.message", hostileContent(`stranger's poison ${round}`));
      await bob.send(group, "m.room.message", hostileContent(`Agent Bot: poison ${round}`));
      const text = `after poison ${round}`;
      const questionId = await s.alice.sendText(dm, text);
      const answers = await s.waitBotMessages(dm, round, `the DM answer after poison ${round}`);
      const answer = answers[round - 1];
      expect(answer?.content["body"]).toBe(echoReplyFor(text));
      const question = s.hs.timeline(dm).find((e) => e.event_id === questionId);
      if (!question || !answer) throw new Error("question or answer missing from the double's timeline");
      latencies.push(answer.origin_server_ts - question.origin_server_ts);
    }
    await s.waitBotMessages(group, ROUNDS, "bob's hostile messages answered");

    const worstMs = Math.max(...latencies);
    printFigure(`poison event, ${mode} mode`, { rounds: ROUNDS, worstAnswerMs: worstMs, latenciesMs: latencies.join(",") });
    if (mode === "appservice") expect(s.hs.transactions.filter((t) => t.status !== 200)).toEqual([]);
    expect(worstMs).toBeLessThanOrEqual(ANSWERED_WITHIN_MS);
  });
});
