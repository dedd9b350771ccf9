// Prompts in an encrypted room, with a real matrix-js-sdk client (Rust crypto, a child process) and the built bot
// (MATRIX_E2EE=true). An approval: the prompt and its ✅/❌ go encrypted; the client decrypts them, answers with an
// encrypted reaction, which the bot decrypts; the run resumes and the client decrypts the answer and the outcome.
// Choices: the polls go encrypted and matrix-js-sdk's own poll support reads them once decrypted; the client's votes
// (stable and unstable form) go encrypted, the bot decrypts them, ends each poll (encrypted; the client sees it
// ended) and the run resumes once. Nothing of a prompt, a reaction or a poll travels in the clear.
import { EncryptedDm } from "../../support/encrypted-dm";
import type { PeerMessage, PeerPoll } from "../../support/js-sdk-peer";
import { expectSteady } from "../../support/bot-idle";
import { scaled } from "../../support/wait";
import { LIVE_TEST_ENV } from "../live/support";
import { resumeRuns, startPausingAgent } from "./support";
import type { ScriptedAgent } from "../../support/scripted-agent";

jest.setTimeout(scaled(120_000));

const CLEAR_TYPES = ["m.reaction", "m.room.message", "org.matrix.msc3381.poll.start", "org.matrix.msc3381.poll.end",
  "org.matrix.msc3381.poll.response", "m.poll.response"];

describe("an approval in an encrypted room", () => {
  let agent: ScriptedAgent;
  const w = new EncryptedDm();
  beforeAll(() => w.start(async () => agent = await startPausingAgent(), LIVE_TEST_ENV));
  afterAll(() => w.stop());

  it("prompt, reactions and answer encrypted; the encrypted reaction resumes the run", async () => {
    const { alice, room } = w;
    await alice.send(room, "mail Bob");

    const fromBot = (ms: PeerMessage[]) => ms.filter((m) => m.sender === w.botUserId);
    const prompt = await alice.waitMessages(room, (ms) => fromBot(ms).find((m) => String(m.originalContent["body"]).startsWith("🔐")),
      "the decrypted prompt", 60_000);
    expect(prompt.encrypted).toBe(true);
    const reactions = await alice.waitMessages(room, (ms) => {
      const r = fromBot(ms).filter((m) => m.type === "m.reaction");
      return r.length === 2 ? r : undefined;
    }, "the bot's decrypted ✅ and ❌", 60_000);
    expect(reactions.every((r) => r.encrypted)).toBe(true);
    expect(reactions.map((r) => (r.originalContent["m.relates_to"] as Record<string, unknown>)["key"])).toEqual(["✅", "❌"]);

    await alice.sendContent(room, { "m.relates_to": { rel_type: "m.annotation", event_id: prompt.eventId, key: "✅" } }, "m.reaction");
    const answer = await alice.waitMessages(room, (ms) => fromBot(ms).find((m) => String(m.originalContent["body"]).startsWith("resumed:")),
      "the decrypted answer of the resumed run", 60_000);
    expect(answer.encrypted).toBe(true);
    expect(answer.originalContent["body"]).toBe('resumed: [{"interruptId":"i1","status":"resolved","payload":{"approved":true}}]');
    await alice.waitMessages(room, (ms) => fromBot(ms).some((m) => m.eventId === prompt.eventId && String(m.content["body"]).includes("✅ approved by Alice")),
      "the prompt's outcome, decrypted", 60_000);
    expect(resumeRuns(agent)).toHaveLength(1);
    // Nothing of the prompt travelled in the clear.
    expect(w.hs.sent({ roomId: room, sender: w.botUserId }).filter((e) => CLEAR_TYPES.includes(e.type))).toEqual([]);
  });
});

const DAY = { id: "day", reason: "choose", message: "Which day?", responseSchema: { type: "string", enum: ["Monday", "Tuesday", "Friday"] } };
const TIME = { id: "time", reason: "choose", message: "What time?", responseSchema: { type: "string", enum: ["9:00", "14:00"] } };

describe("choices by poll in an encrypted room", () => {
  let agent: ScriptedAgent;
  const w = new EncryptedDm();
  beforeAll(() => w.start(async () => agent = await startPausingAgent([DAY, TIME]), LIVE_TEST_ENV));
  afterAll(() => w.stop());

  const ref = (eventId: string) => ({ "m.relates_to": { rel_type: "m.reference", event_id: eventId } });

  it("polls, votes and ends encrypted; matrix-js-sdk reads the decrypted polls; both votes resume the run once", async () => {
    const { alice, room } = w;
    await alice.send(room, "book a meeting");

    const polls = await alice.waitPolls(room, (ps) => ps.length === 2 ? ps : undefined, "both polls, decrypted and read as polls", 60_000);
    // Found by question: the client may finish decrypting them in either order.
    const byQuestion = (q: string): PeerPoll => polls.find((p) => p.question === q) ?? { ...polls[0] as PeerPoll, question: `(no poll "${q}")` };
    const [day, time] = [byQuestion("❓ Which day?"), byQuestion("❓ What time?")];
    const common = { sender: w.botUserId, encrypted: true, kind: "org.matrix.msc3381.poll.disclosed", maxSelections: 1, ended: false, endEncrypted: false };
    expect(day).toEqual({ ...common, pollId: day.pollId, question: "❓ Which day?",
      answers: [{ id: "o1", text: "Monday" }, { id: "o2", text: "Tuesday" }, { id: "o3", text: "Friday" }] });
    expect(time).toEqual({ ...common, pollId: time.pollId, question: "❓ What time?", answers: [{ id: "o1", text: "9:00" }, { id: "o2", text: "14:00" }] });

    // The stable form (what matrix-js-sdk sends) on the first, the unstable one on the second; both encrypted.
    await alice.sendContent(room, { ...ref(day.pollId), "m.poll.response": { answers: ["o2"] } }, "m.poll.response");
    const ended = await alice.waitPolls(room, (ps) => ps.find((p) => p.pollId === day.pollId && p.ended), "the first poll ended, decrypted", 60_000);
    expect(ended).toMatchObject({ endEncrypted: true, endText: "☑️ Tuesday (chosen by Alice)" });
    await expectSteady(() => w.settled(), () => expect(resumeRuns(agent)).toHaveLength(0));

    await alice.sendContent(room, { ...ref(time.pollId), "org.matrix.msc3381.poll.response": { answers: ["o2"] } }, "org.matrix.msc3381.poll.response");
    const fromBot = (ms: PeerMessage[]) => ms.filter((m) => m.sender === w.botUserId);
    const answer = await alice.waitMessages(room, (ms) => fromBot(ms).find((m) => String(m.originalContent["body"]).startsWith("resumed:")),
      "the decrypted answer of the resumed run", 60_000);
    expect(answer.encrypted).toBe(true);
    expect(answer.originalContent["body"]).toBe('resumed: [{"interruptId":"day","status":"resolved","payload":"Tuesday"},'
      + '{"interruptId":"time","status":"resolved","payload":"14:00"}]');
    expect(await alice.waitPolls(room, (ps) => ps.find((p) => p.pollId === time.pollId && p.ended), "the second poll ended", 60_000))
      .toMatchObject({ endEncrypted: true, endText: "☑️ 14:00 (chosen by Alice)" });

    // A late vote changes nothing; the run resumed once, each poll ended once.
    await alice.sendContent(room, { ...ref(day.pollId), "m.poll.response": { answers: ["o1"] } }, "m.poll.response");
    await expectSteady(() => w.settled(), () => {
      expect(resumeRuns(agent)).toHaveLength(1);
      expect(w.bot.logs.lines().filter((l) => l.msg === "prompt answered")).toHaveLength(2);
    });
    // Nothing of the polls, the votes or the ends travelled in the clear.
    expect(w.hs.sent({ roomId: room }).filter((e) => CLEAR_TYPES.includes(e.type))).toEqual([]);
    expect(w.hs.sent({ roomId: room, sender: alice.userId }).filter((e) => e.type === "m.room.encrypted").length).toBeGreaterThanOrEqual(4);
  });
});
