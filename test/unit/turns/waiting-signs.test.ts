// Typing and the read receipt while a turn waits for its agent (src/turns/waiting-signs.ts): only for an agent
// slower than TYPING_DELAY_MS, never while an answer in hand is delivered (however slow the delivery), and again,
// after the delay, for an agent that goes on working once an answer is out.
import pino from "pino";
import type { RoomMessageSender } from "../../../src/matrix/sender";
import { RoomTyping } from "../../../src/turns/typing";
import { WaitingSigns } from "../../../src/turns/waiting-signs";
import { expectSteady, waitFor } from "../../support/wait";

const DELAY_MS = 40;
const ROOM = "!r:x";

function world(delayMs = DELAY_MS) {
  const typing: boolean[] = [];
  let receipts = 0;
  const sender: Pick<RoomMessageSender, "setTyping"> = {
    async setTyping(_roomId, on) {
      typing.push(on);
    },
  };
  const roomTyping = new RoomTyping(sender, 30_000, pino({ level: "silent" }), delayMs);
  const signs = new WaitingSigns(roomTyping, ROOM, delayMs, () => void (receipts += 1));
  return { typing, receipts: () => receipts, signs };
}

/** A delivery that lasts until `done` is called (the homeserver or the outbox being slow). */
function slowDelivery(): { deliver: () => Promise<string>; done: () => void } {
  let done = (): void => undefined;
  const gate = new Promise<string>((resolve) => (done = () => resolve("$answer")));
  return { deliver: () => gate, done };
}

describe("the signs of a turn waiting for its agent", () => {
  it("an answer slow on its way: no typing and no receipt, however long the delivery takes", async () => {
    const w = world();
    const delivery = slowDelivery();
    const delivered = w.signs.delivering(delivery.deliver);
    const settled = async (): Promise<void> => undefined;
    await expectSteady(settled, () => {
      expect(w.typing).toEqual([]);
      expect(w.receipts()).toBe(0);
    }, { windowMs: DELAY_MS * 5 });
    delivery.done();
    await delivered;
    w.signs.agentDone();
    w.signs.settleReceipt(false);
    await w.signs.end();
    await expectSteady(settled, () => expect([w.typing, w.receipts()]).toEqual([[], 0]), { windowMs: DELAY_MS * 3 });
  });

  it("a slow agent: typing on and the receipt after the delay; typing stays on through the delivery, off at the end", async () => {
    const w = world();
    await waitFor(() => w.typing.length === 1 && w.receipts() === 1, { what: "typing on and the receipt" });
    await w.signs.delivering(async () => "$answer");
    w.signs.agentDone();
    w.signs.settleReceipt(false);
    await w.signs.end();
    expect(w.typing).toEqual([true, false]);
    expect(w.receipts()).toBe(1);
  });

  it("an agent that goes on working after an answer is out: typing after the delay again, no receipt", async () => {
    const w = world();
    await w.signs.delivering(async () => "$first");
    await waitFor(() => w.typing.length === 1, { what: "typing on while the agent goes on working" });
    w.signs.agentDone();
    w.signs.settleReceipt(false);
    await w.signs.end();
    expect(w.typing).toEqual([true, false]);
    expect(w.receipts()).toBe(0);
  });

  it("a run of which nothing will be posted (edited, redacted, shut down) gets its receipt at the end; one that posts gets none", async () => {
    const nothing = world(60_000);
    nothing.signs.agentDone();
    nothing.signs.settleReceipt(true);
    await nothing.signs.end();
    expect([nothing.typing, nothing.receipts()]).toEqual([[], 1]);
    const posts = world(60_000);
    posts.signs.agentDone();
    posts.signs.settleReceipt(false);
    await posts.signs.end();
    expect([posts.typing, posts.receipts()]).toEqual([[], 0]);
  });

  it("with no delay, typing and the receipt at once, as before", async () => {
    const w = world(0);
    await waitFor(() => w.typing.length === 1, { what: "typing on" });
    expect(w.receipts()).toBe(1);
    await w.signs.delivering(async () => "$answer");
    w.signs.agentDone();
    w.signs.settleReceipt(true);
    await w.signs.end();
    expect(w.typing).toEqual([true, false]);
    expect(w.receipts()).toBe(1);
  });
});
