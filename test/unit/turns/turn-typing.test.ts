// Typing during turns, against a sender whose typing requests land late (a slow homeserver): the renewal
// that is still on its way when the turn ends must not land after "typing off", and one turn ending must
// not turn typing off while another turn in the same room goes on.
import pino from "pino";
import type { RoomMessageSender } from "../../../src/matrix/sender";
import { TurnRun, type AgentRunner, type TurnMessage } from "../../../src/turns/turn-run";
import { RoomTyping } from "../../../src/turns/typing";
import { expectSteady, waitFor } from "../../support/wait";

/** The agent's or the homeserver's latency (stimulus); no assertion waits on it. */
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function slowTypingSender(landAfterMs: number): { sender: RoomMessageSender; landed: boolean[]; onTheWay: () => number } {
  const landed: boolean[] = [];
  let onTheWay = 0;
  const sender: RoomMessageSender = {
    sendEvent: async () => ({ ok: true, eventId: "$answer", attempts: 1 }),
    sendReadReceipt: async () => undefined,
    async setTyping(_roomId, typing) {
      onTheWay += 1;
      // "on" requests are slow to land; "off" lands at once: the order the homeserver sees is what counts.
      if (typing) await sleep(landAfterMs);
      landed.push(typing);
      onTheWay -= 1;
    },
  };
  return { sender, landed, onTheWay: () => onTheWay };
}

/** Every typing request sent so far has landed. */
const allLanded = (onTheWay: () => number) => () => waitFor(() => onTheWay() === 0, { what: "every typing request landed" });

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

/** An agent that answers once `ready` holds: the turn lasts as long as the test needs, whatever the machine's load. */
function agentAnsweringWhen(ready: () => boolean, what: string): AgentRunner {
  return {
    async run(_req, observer) {
      await waitFor(ready, { what });
      await observer.onTextMessage("m1", "done");
      return { ok: true };
    },
  };
}

test("typing is renewed during the turn and the last word the homeserver hears is 'off'", async () => {
  const { sender, landed, onTheWay } = slowTypingSender(80);
  // The turn goes on until a renewal was sent (the first "on" and one more), and ends while it may still be on its way.
  const run = new TurnRun([message], {
    agent: agentAnsweringWhen(() => landed.length + onTheWay() >= 2, "typing renewed during the turn"), sender, log: pino({ level: "silent" }),
    options: { typingTimeoutMs: 50, placeholderDelayMs: 60_000 },
  });
  await run.execute();
  await expectSteady(allLanded(onTheWay), () => { // anything still on its way has landed
    expect(landed.filter((t) => t).length).toBeGreaterThanOrEqual(2);
    expect(landed.at(-1)).toBe(false);
  });
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

describe("RoomTyping: several turns in one room", () => {
  const log = pino({ level: "silent" });

  test("typing stays on until the last turn in the room ends, then goes off once", async () => {
    const { sender, landed, onTheWay } = slowTypingSender(5);
    const typing = new RoomTyping(sender, 40, log);
    const endMain = typing.hold("!r:x");
    const endThread = typing.hold("!r:x");
    await waitFor(() => landed.length >= 2, { what: "typing on and renewed" });
    await endThread();
    await endThread(); // twice: no effect
    // Two more renewals landed after the thread's turn ended: an "off" sent then would have landed before them.
    const landedAtEnd = landed.length;
    await waitFor(() => landed.length >= landedAtEnd + 2, { what: "two renewals after the thread's turn ended" });
    expect(landed).not.toContain(false); // the main timeline's turn is still going
    await endMain();
    await expectSteady(allLanded(onTheWay), () => {
      expect(landed.filter((t) => !t)).toHaveLength(1);
      expect(landed.at(-1)).toBe(false);
    });
  });

  test("a turn starting while 'off' is on its way turns typing on again after it", async () => {
    const { sender, landed } = slowTypingSender(30);
    const typing = new RoomTyping(sender, 1_000, log);
    const first = typing.hold("!r:x");
    const off = first();
    const second = typing.hold("!r:x");
    await off;
    await waitFor(() => landed.length >= 3, { what: "the second turn's typing" });
    expect(landed).toEqual([true, false, true]);
    await second();
    expect(landed.at(-1)).toBe(false);
  });

  test("rooms are independent", async () => {
    const calls: Array<[string, boolean]> = [];
    const typing = new RoomTyping({ setTyping: async (roomId, on) => void calls.push([roomId, on]) }, 1_000, log);
    const a = typing.hold("!a:x");
    const b = typing.hold("!b:x");
    await a();
    expect(calls).toContainEqual(["!a:x", false]);
    expect(calls).not.toContainEqual(["!b:x", false]);
    await b();
    expect(calls).toContainEqual(["!b:x", false]);
  });
});
