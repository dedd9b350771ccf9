// Which runs skip the reads that look for an earlier attempt's records (src/outbox/unrecorded.ts): only the plain
// first run of a message this process journaled first (TurnMessage.fresh). Every run that reuses an id some run may
// have used before keeps them: a batch run again after a crash (recovered), a batch run again after an edit or a
// redaction (opts.runId: the change's id), a resumed run (its paused run's id), an edited question (its edit's id) and
// an answer given again (previousAnswer / takeOver). The cover ends with the run.
import Keyv from "keyv";
import pino from "pino";
import type { RoomMessageSender } from "../../../src/matrix/sender";
import { UnrecordedRuns } from "../../../src/outbox/unrecorded";
import type { LiveRendering } from "../../../src/render/answer";
import { LiveStore } from "../../../src/render/live-store";
import { LIVE_DEFAULTS, RateLimitGate } from "../../../src/render/pacing";
import { TurnRun, type AgentRunner, type TurnMessage, type TurnRunOptions } from "../../../src/turns/turn-run";

const log = pino({ level: "silent" });
const base: TurnMessage = { roomId: "!r:x", eventId: "$q", sender: "@a:x", isDirect: true, threadKey: "k", text: "hi" };

const agent: AgentRunner = {
  async run(_req, observer) {
    await observer.onTextMessage("m1", "the answer");
    return { ok: true };
  },
};

/** Runs `message` with `opts`; says, for each txnId the run sent, whether the registry covered it then. */
async function coveredSends(message: TurnMessage, opts: TurnRunOptions = {}): Promise<{ covered: boolean[]; openAfter: number }> {
  const unrecorded = new UnrecordedRuns();
  const covered: boolean[] = [];
  const sender: RoomMessageSender = {
    sendEvent: async (_roomId, _type, _content, txnId) => {
      covered.push(unrecorded.covers(txnId));
      return { ok: true, eventId: `$sent-${covered.length}`, attempts: 1 };
    },
    sendReadReceipt: async () => undefined,
    setTyping: async () => undefined,
  };
  const live: LiveRendering = {
    streams: async () => false, encrypted: async () => false, store: new LiveStore(new Keyv(), log, unrecorded),
    gate: new RateLimitGate(), options: LIVE_DEFAULTS, unrecorded,
  };
  const run = new TurnRun([message], { agent, sender, log, live,
    options: { typingTimeoutMs: 30_000, typingDelayMs: 600_000, placeholderDelayMs: 600_000 } }, opts);
  await run.execute();
  return { covered, openAfter: unrecorded.size };
}

test("the first run of a fresh message sends under covered txnIds, and the cover ends with it", async () => {
  expect(await coveredSends({ ...base, fresh: true })).toEqual({ covered: [true], openAfter: 0 });
});

test.each<[string, TurnMessage, TurnRunOptions]>([
  ["a message from the journal at start (not fresh)", base, {}],
  ["a batch run again after a crash", { ...base, fresh: true }, { runId: "$q", recovered: true }],
  ["a batch run again after an edit or a redaction (the change's id)", { ...base, fresh: true }, { runId: "$edit", takeOver: [] }],
  ["an answer given again, taking over the earlier one", { ...base, fresh: true }, { takeOver: ["$old"] }],
  ["a resumed run (its paused run's id)", { ...base, fresh: true, resume: { runId: "$paused", key: "k1", entries: [] } }, {}],
  ["an edited question (its edit's id)", { ...base, fresh: true, editId: "$edit" }, {}],
  ["a question answered before, asked again", { ...base, fresh: true, previousAnswer: ["$old"] }, {}],
])("%s reads as before: nothing covered", async (_what, message, opts) => {
  const { covered, openAfter } = await coveredSends(message, opts);
  expect(covered.length).toBeGreaterThan(0);
  expect(covered.every((c) => !c)).toBe(true);
  expect(openAfter).toBe(0);
});
