// A run's txnIds: the homeserver deduplicates a send by its txnId, so a message sent again (after a crash, or by a
// newer version of the bot than the one that sent it first) must carry the very id it had. The id of a run's part
// is `mab.<32 chars of the base64url sha256 of "<room>\n<run id>">.<part>`, however the bot computes it.
import { createHash } from "node:crypto";
import fc from "fast-check";
import pino from "pino";
import type { RoomMessageSender } from "../../../src/matrix/sender";
import { TurnRun, txnIdFor, type AgentRunner, type TurnMessage } from "../../../src/turns/turn-run";

const asFirstWritten = (runId: string, roomId: string, part: string): string =>
  `mab.${createHash("sha256").update(`${roomId}\n${runId}`).digest("base64url").slice(0, 32)}.${part}`;

test("txnIdFor gives every part of a run the id it had when it was first sent (property)", () => {
  fc.assert(fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), fc.string(), (runId, roomId, part) => {
    expect(txnIdFor(runId, roomId, part)).toBe(asFirstWritten(runId, roomId, part));
  }));
  // As main 1d13f56 computed it (one hash per part then).
  expect(txnIdFor("$e", "!r:x", "m0.s0")).toBe("mab.f3gQuS6gzKfZFD9JNl269Gq-OCgNd0zv.m0.s0");
});

test("a run's messages carry the ids of their run and room, one per part", async () => {
  const sent: string[] = [];
  const sender: RoomMessageSender = {
    sendEvent: async (_roomId, _type, _content, txnId) => {
      sent.push(txnId);
      return { ok: true, eventId: `$answer${sent.length}`, attempts: 1 };
    },
    sendReadReceipt: async () => undefined,
    setTyping: async () => undefined,
  };
  const agent: AgentRunner = {
    async run(_req, observer) {
      await observer.onTextMessage("m1", "first answer");
      await observer.onTextMessage("m2", "second answer");
      return { ok: true };
    },
  };
  const message: TurnMessage = { roomId: "!room:x", eventId: "$question", sender: "@a:x", isDirect: true, threadKey: "k", text: "hi" };
  const run = new TurnRun([message], { agent, sender, log: pino({ level: "silent" }),
    options: { typingTimeoutMs: 30_000, typingDelayMs: 60_000, placeholderDelayMs: 60_000 } });
  expect((await run.execute()).ok).toBe(true);
  expect(sent).toHaveLength(2);
  expect(new Set(sent).size).toBe(2);
  for (const txnId of sent) expect(txnId.startsWith(asFirstWritten("$question", "!room:x", ""))).toBe(true);
});
