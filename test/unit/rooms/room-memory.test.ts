// What the bot remembers of a room's conversation (threads it was asked in, its recent answers) on a real sqlite
// store: kept across reopening, bounded per room (oldest forgotten first), an answer given again replaces the
// earlier record of the same question, and an unreadable record starts afresh. Answers are one store entry each: an
// answer costs one small write however many the room keeps, and stores written before (one record per room) are read.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import pino from "pino";
import { RoomMemory } from "../../../src/rooms/room-memory";
import { openStore, type Store } from "../../../src/store";
import type { CommittedWrite } from "../../../src/store/sqlite-adapter";

const ROOM = "!room:example.org";

describe("RoomMemory", () => {
  let dir: string;
  const opened: Store[] = [];

  /** What each commit wrote (key and stored text), in order. */
  let committed: CommittedWrite[] = [];
  const open = async (opts: { threadsMax?: number; answersMax?: number } = {}): Promise<{ store: Store; memory: RoomMemory }> => {
    const store = await openStore(`sqlite://${path.join(dir, "bot.sqlite")}`, { logger: pino({ level: "silent" }),
      wrapAdapter: (adapter) => {
        adapter.on("commit", (writes: CommittedWrite[]) => committed.push(...writes));
        return adapter;
      } });
    opened.push(store);
    return { store, memory: new RoomMemory({ kv: store.namespace("room-memory"), log: pino({ level: "silent" }), ...opts }) };
  };
  const answer = (questions: string[], events: string[], root?: string) => ({
    questions, senders: questions.map(() => "@alice:example.org"), events, ...(root ? { root } : {}),
  });

  beforeEach(() => {
    committed = [];
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mab-room-memory-"));
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close().catch(() => undefined)));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("keeps followed threads and answers across reopening the store; answers in a thread follow it", async () => {
    const first = await open();
    await first.memory.follow(ROOM, "$root1");
    await first.memory.recordAnswer(ROOM, answer(["$q1"], ["$a1", "$a2"], "$root2"));
    await first.store.close();
    const { memory } = await open();
    expect(await memory.isFollowed(ROOM, "$root1")).toBe(true);
    expect(await memory.isFollowed(ROOM, "$root2")).toBe(true);
    expect(await memory.isFollowed("!other:example.org", "$root1")).toBe(false);
    expect(await memory.answerTo(ROOM, "$q1")).toMatchObject({ questions: ["$q1"], events: ["$a1", "$a2"], root: "$root2" });
  });

  it("forgets the oldest threads and answers beyond their bounds", async () => {
    const { memory } = await open({ threadsMax: 3, answersMax: 2 });
    for (const root of ["$t1", "$t2", "$t3", "$t4"]) await memory.follow(ROOM, root);
    expect(await Promise.all(["$t1", "$t2", "$t3", "$t4"].map((r) => memory.isFollowed(ROOM, r)))).toEqual([false, true, true, true]);
    for (const q of ["$q1", "$q2", "$q3"]) await memory.recordAnswer(ROOM, answer([q], [`${q}-answer`]));
    expect(await memory.answerTo(ROOM, "$q1")).toBeUndefined();
    expect(await memory.answerTo(ROOM, "$q3")).toMatchObject({ events: ["$q3-answer"] });
  });

  it("an answer given again replaces the earlier record; the newest answer of a thread is its last; forgetting removes it", async () => {
    const { memory } = await open();
    await memory.recordAnswer(ROOM, answer(["$q1", "$q2"], ["$a1"]));
    await memory.recordAnswer(ROOM, answer(["$q3"], ["$a3"], "$thread"));
    const inMain = await memory.answerTo(ROOM, "$q2");
    expect(inMain && (await memory.isLastOfItsThread(ROOM, inMain))).toBe(true); // the thread's answer is elsewhere
    await memory.recordAnswer(ROOM, answer(["$q2"], ["$a1", "$a1b"]));
    expect(await memory.answerTo(ROOM, "$q1")).toBeUndefined(); // the record of the batch was replaced
    expect(await memory.answerTo(ROOM, "$q2")).toMatchObject({ events: ["$a1", "$a1b"] });
    await memory.recordAnswer(ROOM, answer(["$q4"], ["$a4"]));
    const older = await memory.answerTo(ROOM, "$q2");
    expect(older && (await memory.isLastOfItsThread(ROOM, older))).toBe(false);
    await memory.forgetAnswer(ROOM, "$q4");
    expect(await memory.answerTo(ROOM, "$q4")).toBeUndefined();
  });

  it("an unreadable record reads as empty and is written afresh", async () => {
    const { store, memory } = await open();
    await store.namespace<unknown>("room-memory").set(`a|${ROOM}`, { v: 1, answers: "not a list" });
    expect(await memory.answerTo(ROOM, "$q1")).toBeUndefined();
    await memory.recordAnswer(ROOM, answer(["$q1"], ["$a1"]));
    expect(await memory.answerTo(ROOM, "$q1")).toMatchObject({ events: ["$a1"] });
  });

  it("an answer is one small write, however many answers the room keeps", async () => {
    const { memory } = await open({ answersMax: 100 });
    const written = async (q: string): Promise<{ writes: number; bytes: number }> => {
      committed = [];
      await memory.recordAnswer(ROOM, answer([q], [`${q}-answer`]));
      return { writes: committed.length, bytes: committed.reduce((sum, w) => sum + String(w.value ?? "").length, 0) };
    };
    const first = await written("$q0");
    for (let i = 1; i < 150; i += 1) await memory.recordAnswer(ROOM, answer([`$q${i}`], [`$q${i}-answer`]));
    const later = await written("$q150");
    expect(first.writes).toBe(1);
    expect(later).toEqual({ writes: 1, bytes: expect.any(Number) });
    expect(later.bytes).toBeLessThan(first.bytes + 20); // the numbers in it grew a digit or two; the answers kept did not count
    expect(await memory.answerTo(ROOM, "$q50")).toBeUndefined(); // 100 kept: $q51 … $q150
    expect(await memory.answerTo(ROOM, "$q51")).toMatchObject({ events: ["$q51-answer"] });
  });

  it("after forgetting answers in the middle, every other answer is still read back after reopening, and the bound holds", async () => {
    const first = await open({ answersMax: 5 });
    for (const q of ["$q1", "$q2", "$q3", "$q4", "$q5"]) await first.memory.recordAnswer(ROOM, answer([q], [`${q}-answer`]));
    await first.memory.forgetAnswer(ROOM, "$q2");
    await first.memory.recordAnswer(ROOM, answer(["$q4", "$q6"], ["$q46-answer"])); // replaces $q4's answer
    await first.store.close();
    const { memory } = await open({ answersMax: 5 });
    const known = async (): Promise<Array<string | undefined>> =>
      Promise.all(["$q1", "$q2", "$q3", "$q4", "$q5", "$q6", "$q7", "$q8"].map(async (q) => (await memory.answerTo(ROOM, q))?.events[0]));
    expect(await known()).toEqual(["$q1-answer", undefined, "$q3-answer", "$q46-answer", "$q5-answer", "$q46-answer", undefined, undefined]);
    await memory.recordAnswer(ROOM, answer(["$q7"], ["$q7-answer"]));
    await memory.recordAnswer(ROOM, answer(["$q8"], ["$q8-answer"])); // 6 answers: the oldest ($q1) goes
    expect(await known()).toEqual([undefined, undefined, "$q3-answer", "$q46-answer", "$q5-answer", "$q46-answer", "$q7-answer", "$q8-answer"]);
    const newest = await memory.answerTo(ROOM, "$q8");
    expect(newest && (await memory.isLastOfItsThread(ROOM, newest))).toBe(true);
  });

  it("answers kept by an earlier version (one record per room) are read, and kept one by one after the room's next answer", async () => {
    const { store } = await open();
    const at = Date.now();
    await store.namespace<unknown>("room-memory").set(`a|${ROOM}`, { v: 1, answers: [
      { ...answer(["$old1"], ["$old1-answer"]), at }, { ...answer(["$old2"], ["$old2-answer"], "$thread"), at },
    ] });
    await store.close();
    const second = await open();
    expect(await second.memory.answerTo(ROOM, "$old2")).toMatchObject({ events: ["$old2-answer"], root: "$thread" });
    await second.memory.recordAnswer(ROOM, answer(["$new"], ["$new-answer"], "$thread"));
    expect(await second.store.namespace<unknown>("room-memory").get(`a|${ROOM}`)).toBeUndefined();
    await second.store.close();
    const { memory } = await open();
    expect((await memory.answerTo(ROOM, "$old1"))?.events).toEqual(["$old1-answer"]);
    const old2 = await memory.answerTo(ROOM, "$old2");
    expect(old2 && (await memory.isLastOfItsThread(ROOM, old2))).toBe(false); // the new answer is its thread's last
    expect((await memory.answerTo(ROOM, "$new"))?.events).toEqual(["$new-answer"]);
  });
});
