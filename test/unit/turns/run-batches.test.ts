// The run records (src/turns/run-batches.ts) on a real store, across a "restart" (a second RunBatches on the same
// store): a run cut short comes back as the batch it was, under its runId, once all of its pending turns are there;
// turns already settled are left out; an edited version waits for the version the run had; a finished thread's
// record goes; and the turns in no record are batched as usual.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import pino from "pino";
import { listNamespace } from "../../../src/app/matrix-helpers";
import { openStore, type Store } from "../../../src/store";
import { RunBatches, usualBatch } from "../../../src/turns/run-batches";
import type { TurnMessage } from "../../../src/turns/turn-run";
import { describeEachBackend, freshStore, type TestStore } from "../../support/backends";

const ROOM = "!room:example.org";
const THREAD = "thread-key";
const turn = (id: string, more: Partial<TurnMessage> = {}): TurnMessage => ({
  roomId: ROOM, eventId: id, sender: "@alice:example.org", isDirect: true, threadKey: THREAD, text: `text of ${id}`, ...more,
});
const ids = (batch: TurnMessage[] | undefined): string[] | undefined => batch?.map((m) => m.eventId);

describeEachBackend("RunBatches", (backend) => {
  let dir: string;
  let test: TestStore;
  const opened: Store[] = [];
  let done: Set<string>;
  /** Journal keys marked done by a run's answer: key → runId. */
  let settledBy: Map<string, string>;

  /** A RunBatches on the test's store, as a (re)started process opens it. */
  const open = async (): Promise<{ batches: RunBatches; keys: () => Promise<string[]> }> => {
    const store = await openStore(test.url, { logger: pino({ level: "silent" }) });
    opened.push(store);
    const records = store.namespace<unknown>("run-batches");
    const batches = new RunBatches({ records, list: () => listNamespace(records),
      doneState: async (roomId, key) => {
        const by = settledBy.get(`${roomId}|${key}`);
        return by !== undefined ? { done: true, by } : { done: done.has(`${roomId}|${key}`) };
      },
      complete: async (roomId, key, by) => void settledBy.set(`${roomId}|${key}`, by) }, pino({ level: "silent" }));
    const keys = async (): Promise<string[]> => {
      const out: string[] = [];
      for await (const [key] of listNamespace(records)) out.push(key);
      return out;
    };
    return { batches, keys };
  };

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mab-run-batches-"));
    test = await freshStore(backend, dir);
    done = new Set();
    settledBy = new Map();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close().catch(() => undefined)));
    await test.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("a run cut short runs again as the batch it was, under its runId, once all of its turns are back", async () => {
    const before = await open();
    await before.batches.started(THREAD, [turn("$b"), turn("$c"), turn("$d")], "$d", undefined);

    const after = await open();
    expect(await after.batches.load()).toBe(1);
    const queue: TurnMessage[] = [];
    for (const id of ["$b", "$c"]) {
      queue.push(turn(id));
      expect(after.batches.isRecorded(turn(id))).toBe(true);
      expect(after.batches.next(queue)).toBeUndefined(); // the rest of it is on its way
    }
    queue.push(turn("$d"), turn("$e"));
    expect(after.batches.isRecorded(turn("$e"))).toBe(false);
    const next = after.batches.next(queue);
    expect([ids(next?.batch), next?.opts]).toEqual([["$b", "$c", "$d"], { runId: "$d", recovered: true }]);
    expect(ids(queue)).toEqual(["$e"]); // batched anew, as usual
    expect(after.batches.isRecorded(turn("$b"))).toBe(false);
  });

  it("turns of the batch settled before the crash are left out; a record with none left is deleted", async () => {
    const before = await open();
    await before.batches.started(THREAD, [turn("$b"), turn("$c")], "$c", undefined);
    await before.batches.started("other-thread", [turn("$x", { threadKey: "other-thread" })], "$x", undefined);
    done.add(`${ROOM}|$b`).add(`${ROOM}|$x`);

    const after = await open();
    expect(await after.batches.load()).toBe(1);
    expect(await after.keys()).toEqual([`${ROOM}|${THREAD}`]);
    expect(after.batches.isRecorded(turn("$b"))).toBe(false);
    const next = after.batches.next([turn("$c")]);
    expect([ids(next?.batch), next?.opts]).toEqual([["$c"], { runId: "$c", recovered: true }]);
  });

  it("a run killed while marking its turns handled is not run again: its other turns are marked handled by it", async () => {
    const before = await open();
    await before.batches.started(THREAD, [turn("$b"), turn("$c"), turn("$d")], "$d", undefined);
    settledBy.set(`${ROOM}|$b`, "$d"); // the answer went out; $b was marked handled, then the process died

    const after = await open();
    expect(await after.batches.load()).toBe(0);
    expect([...settledBy]).toEqual([[`${ROOM}|$b`, "$d"], [`${ROOM}|$c`, "$d"], [`${ROOM}|$d`, "$d"]]);
    expect(after.batches.isRecorded(turn("$c"))).toBe(false);
    expect(await after.keys()).toEqual([]);
  });

  it("a turn settled otherwise (redacted, refused) or by another run does not count as the run having answered", async () => {
    const before = await open();
    await before.batches.started(THREAD, [turn("$b"), turn("$c")], "$c", undefined);
    done.add(`${ROOM}|$b`);
    await before.batches.started("other-thread", [turn("$x", { threadKey: "other-thread" }), turn("$y", { threadKey: "other-thread" })], "$y", undefined);
    settledBy.set(`${ROOM}|$x`, "$an-earlier-run");

    const after = await open();
    expect(await after.batches.load()).toBe(2);
    expect([after.batches.isRecorded(turn("$c")), after.batches.isRecorded(turn("$y", { threadKey: "other-thread" }))]).toEqual([true, true]);
    expect(settledBy.has(`${ROOM}|$c`)).toBe(false);
  });

  it("a turn the run had in its edited version waits for that version; the edit's takeover comes back too", async () => {
    const before = await open();
    await before.batches.started(THREAD, [turn("$b", { editId: "$edit", supersedes: ["$b"], text: "new" }), turn("$c")], "$edit", ["$answer"]);

    const after = await open();
    await after.batches.load();
    const queue = [turn("$b"), turn("$c")]; // the question as first journaled: its edit is routed after it
    expect(after.batches.next(queue)).toBeUndefined();
    queue[0] = turn("$b", { editId: "$edit", supersedes: ["$b"], text: "new" });
    const next = after.batches.next(queue);
    expect([ids(next?.batch), next?.batch[0]?.text, next?.opts]).toEqual([["$b", "$c"], "new", { runId: "$edit", recovered: true, takeOver: ["$answer"] }]);
  });

  it("once the room's recovered events are all routed, a batch runs with the turns that came; one with none is forgotten", async () => {
    const before = await open();
    await before.batches.started(THREAD, [turn("$b"), turn("$c")], "$c", undefined);
    await before.batches.started("lost-thread", [turn("$l", { threadKey: "lost-thread" })], "$l", undefined);

    const after = await open();
    expect(await after.batches.load()).toBe(2);
    const queue = [turn("$b")];
    expect(after.batches.next(queue)).toBeUndefined();
    after.batches.release(ROOM, (eventId) => queue.some((m) => m.eventId === eventId));
    expect(after.batches.isRecorded(turn("$l"))).toBe(false);
    const next = after.batches.next(queue);
    expect([ids(next?.batch), next?.opts]).toEqual([["$b"], { runId: "$c", recovered: true }]);
  });

  it("a turn redacted while it waited: its batch runs without it", async () => {
    const before = await open();
    await before.batches.started(THREAD, [turn("$b"), turn("$c")], "$c", undefined);
    const after = await open();
    await after.batches.load();
    const queue = [turn("$b")];
    expect(after.batches.next(queue)).toBeUndefined();
    after.batches.dropped(turn("$c"));
    expect(ids(after.batches.next(queue)?.batch)).toEqual(["$b"]);
  });

  it("a finished thread's record goes; the next run of a thread replaces it; a resume run is not recorded", async () => {
    const { batches, keys } = await open();
    await batches.started(THREAD, [turn("$a")], "$a", undefined);
    await batches.started(THREAD, [turn("$b"), turn("$c")], "$c", undefined);
    await batches.started("paused", [turn("$p", { threadKey: "paused", resume: { runId: "$run", key: "k", entries: [] } })], "$run", undefined);
    expect(await keys()).toEqual([`${ROOM}|${THREAD}`]);
    await batches.finished(ROOM, THREAD);
    await batches.started("another", [turn("$z", { threadKey: "another" })], "$z", undefined);
    expect(await keys()).toEqual([`${ROOM}|another`]);
    const after = await open();
    expect(await after.batches.load()).toBe(1);
    expect(after.batches.isRecorded(turn("$b"))).toBe(false);
    expect(after.batches.isRecorded(turn("$z"))).toBe(true);
  });

  it("the usual batch: up to an answer given again, which runs alone", () => {
    const queue = [turn("$a"), turn("$b"), turn("$r", { replaces: true }), turn("$c")];
    expect(ids(usualBatch(queue)?.batch)).toEqual(["$a", "$b"]);
    expect(ids(usualBatch(queue)?.batch)).toEqual(["$r"]);
    expect(ids(usualBatch(queue)?.batch)).toEqual(["$c"]);
    expect(usualBatch(queue)).toBeUndefined();
  });
});
