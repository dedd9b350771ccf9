// Typing during a turn, against a sender whose typing requests land late (a slow homeserver): the renewal
// that is still on its way when the turn ends must not land after "typing off".
import pino from "pino";
import type { RoomMessageSender } from "../../../src/matrix/sender";
import { TurnRun, type AgentRunner, type TurnMessage } from "../../../src/turns/turn-run";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function slowTypingSender(landAfterMs: number): { sender: RoomMessageSender; landed: boolean[] } {
  const landed: boolean[] = [];
  const sender: RoomMessageSender = {
    sendEvent: async () => ({ ok: true, eventId: "$answer", attempts: 1 }),
    sendReadReceipt: async () => undefined,
    async setTyping(_roomId, typing) {
      // "on" requests are slow to land; "off" lands at once: the order the homeserver sees is what counts.
      if (typing) await sleep(landAfterMs);
      landed.push(typing);
    },
  };
  return { sender, landed };
}

const message: TurnMessage = { roomId: "!r:x", eventId: "$e", sender: "@a:x", isDirect: true, threadKey: "k", text: "hi" };

function agentTaking(ms: number): AgentRunner {
  return {
    async run(_req, observer) {
      await sleep(ms);
      await observer.onTextMessage("m1", "done");
      return { ok: true };
    },
  };
}

test("typing is renewed during the turn and the last word the homeserver hears is 'off'", async () => {
  const { sender, landed } = slowTypingSender(80);
  const run = new TurnRun([message], {
    agent: agentTaking(200), sender, log: pino({ level: "silent" }),
    options: { typingTimeoutMs: 50, placeholderDelayMs: 60_000 },
  });
  await run.execute();
  await sleep(200); // anything still on its way lands now
  expect(landed.filter((t) => t).length).toBeGreaterThanOrEqual(2);
  expect(landed.at(-1)).toBe(false);
});

test("a typing request that hangs does not pile up renewals behind it", async () => {
  const { sender, landed } = slowTypingSender(300);
  let calls = 0;
  const counting: RoomMessageSender = { ...sender, setTyping: (...a) => ((calls += 1), sender.setTyping(...a)) };
  const run = new TurnRun([message], {
    agent: agentTaking(250), sender: counting, log: pino({ level: "silent" }),
    options: { typingTimeoutMs: 20, placeholderDelayMs: 60_000 },
  });
  await run.execute();
  expect(calls).toBeLessThanOrEqual(3); // the first "on", at most one renewal after it landed, "off"
  expect(landed.at(-1)).toBe(false);
});
