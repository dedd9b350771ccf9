// What the bot remembers of a room's conversation (threads it was asked in, its recent answers) on a real sqlite
// store: kept across reopening, bounded per room (oldest forgotten first), an answer given again replaces the
// earlier record of the same question, and an unreadable record starts afresh.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import pino from "pino";
import { RoomMemory } from "../../../src/rooms/room-memory";
import { openStore, type Store } from "../../../src/store";

const ROOM = "!room:example.org";

describe("RoomMemory", () => {
  let dir: string;
  const opened: Store[] = [];

  const open = async (opts: { threadsMax?: number; answersMax?: number } = {}): Promise<{ store: Store; memory: RoomMemory }> => {
    const store = await openStore(`sqlite://${path.join(dir, "bot.sqlite")}`, { logger: pino({ level: "silent" }) });
    opened.push(store);
    return { store, memory: new RoomMemory({ kv: store.namespace("room-memory"), log: pino({ level: "silent" }), ...opts }) };
  };
  const answer = (questions: string[], events: string[], root?: string) => ({
    questions, senders: questions.map(() => "@alice:example.org"), events, ...(root ? { root } : {}),
  });

  beforeEach(() => {
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
});
