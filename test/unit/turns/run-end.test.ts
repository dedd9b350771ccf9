// A run's end (run-end.ts, settle-turns.ts) on SQLite: on a store that applies writes in issue order, the batch's
// journal entries marked done, its answer remembered and its thread's run record deleted go in one commit, which is
// durable before the first "turn-settled" checkpoint (a kill there leaves every turn of the batch done and no record).
// On a store that does not order writes each waits for the one before: every entry done, then the answer, then the
// record deleted.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import pino from "pino";
import { journalStores } from "../../../src/app/journal-stores";
import { listNamespace } from "../../../src/app/matrix-helpers";
import { runBatchesOn } from "../../../src/app/run-batches";
import { settleTurns } from "../../../src/app/settle-turns";
import type { RoomEvent } from "../../../src/matrix/events";
import { Journal } from "../../../src/matrix/journal";
import { openStore, type Store } from "../../../src/store";
import type { PipelineDeps } from "../../../src/turns/pipeline-deps";
import { finished } from "../../../src/turns/run-end";
import type { TurnMessage, TurnRun } from "../../../src/turns/turn-run";
import { installCheckpointHook } from "../../../src/util/checkpoints";

const ROOM = "!room:example.org";
const THREAD = "thread";
const silent = pino({ level: "silent" });
const event = (id: string): RoomEvent => ({ event_id: id, room_id: ROOM, type: "m.room.message", sender: "@alice:example.org",
  origin_server_ts: 1_700_000_000_000, content: { msgtype: "m.text", body: id } }) as RoomEvent;
const turn = (id: string): TurnMessage => ({ roomId: ROOM, eventId: id, sender: "@alice:example.org", isDirect: true, threadKey: THREAD, text: id });
const run = { runId: "$c", answerEventIds: async () => ["$answer"] } as unknown as TurnRun;

describe("a run's end", () => {
  let dir: string;
  let store: Store;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mab-run-end-"));
    store = await openStore(`sqlite://${path.join(dir, "bot.sqlite")}`, { logger: silent });
  });
  afterEach(async () => {
    installCheckpointHook(undefined);
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A batch of three journaled turns whose run is recorded; the end's writes on this store, ordered or not. */
  async function ended(writesInIssueOrder: boolean, steps: string[] = []): Promise<{ journal: Journal; before: number }> {
    const journal = new Journal(journalStores(store), silent);
    await journal.record([event("$a"), event("$b"), event("$c")]);
    const batches = runBatchesOn(store, journal, silent);
    const batch = [turn("$a"), turn("$b"), turn("$c")];
    await batches.started(THREAD, batch, run.runId, undefined);
    const memory = store.namespace<string[]>("room-memory");
    const settleAll = settleTurns(journal, writesInIssueOrder);
    const deps = {
      log: silent, writesInIssueOrder,
      onSettled: async (messages: TurnMessage[], byRun?: string) => {
        await settleAll(messages, byRun);
        steps.push("done");
      },
      onAnswered: async (_: TurnMessage[], ids: string[]) => {
        await memory.set("answer", ids);
        steps.push("remembered");
      },
    } as unknown as PipelineDeps;
    const before = store.writeStats()?.commits ?? 0;
    await finished(deps, run, batch, async () => {
      await batches.finished(ROOM, THREAD);
      steps.push("record deleted");
    });
    return { journal, before };
  }

  const records = async (): Promise<string[]> => {
    const keys: string[] = [];
    for await (const [key] of listNamespace(store.namespace("run-batches"))) keys.push(key);
    return keys;
  };

  it("on a store that orders writes: one commit, durable before the first turn-settled checkpoint", async () => {
    const commits = (): number => store.writeStats()?.commits ?? 0;
    let atFirstCheckpoint: number | undefined;
    installCheckpointHook((point) => {
      if (point === "turn-settled") atFirstCheckpoint ??= commits();
    });
    const { journal, before } = await ended(true);
    expect(commits()).toBe(before + 1);
    expect(atFirstCheckpoint).toBe(before + 1);
    for (const id of ["$a", "$b", "$c"]) expect(await journal.doneState(ROOM, id)).toEqual({ done: true, by: "$c" });
    expect(await records()).toEqual([]);
    expect(await store.namespace("room-memory").get("answer")).toEqual(["$answer"]);
  });

  it("on a store that does not order writes: every entry done, then the answer, then the record deleted", async () => {
    const steps: string[] = [];
    const { journal } = await ended(false, steps);
    expect(steps).toEqual(["done", "remembered", "record deleted"]);
    for (const id of ["$a", "$b", "$c"]) expect(await journal.doneState(ROOM, id)).toEqual({ done: true, by: "$c" });
    expect(await records()).toEqual([]);
  });
});
