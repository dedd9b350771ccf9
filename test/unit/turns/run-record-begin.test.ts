// A run may begin before its record's commit only on a store that applies writes in issue order (SQLite's group
// commit): there every write issued after the record (the outbox record before a send) commits with it or after it.
// Elsewhere the run begins once its record is durable. Either way `durable` resolves once it is committed. A deferred
// record (the plain first run of a fresh message) is written only when the run first sends (src/turns/record-gate.ts).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import pino from "pino";
import { listNamespace } from "../../../src/app/matrix-helpers";
import { openStore, type Store } from "../../../src/store";
import { RunBatches } from "../../../src/turns/run-batches";
import type { TurnMessage } from "../../../src/turns/turn-run";

const turn = (id: string): TurnMessage => ({
  roomId: "!room:example.org", eventId: id, sender: "@alice:example.org", isDirect: true, threadKey: "thread", text: id,
});

describe("a run's record: when the run may begin", () => {
  let dir: string;
  let store: Store;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mab-run-begin-"));
    store = await openStore(`sqlite://${path.join(dir, "bot.sqlite")}`, { logger: pino({ level: "silent" }) });
  });
  afterEach(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const batchesOn = (writesInIssueOrder: boolean): RunBatches => {
    const records = store.namespace<unknown>("run-batches");
    return new RunBatches({ records, list: () => listNamespace(records), doneState: async () => ({ done: false }),
      complete: async () => undefined, writesInIssueOrder }, pino({ level: "silent" }));
  };
  const committed = async (): Promise<number> => (store.writeStats()?.commits ?? 0);
  const recordKeys = async (): Promise<string[]> => {
    const keys: string[] = [];
    for await (const [key] of listNamespace(store.namespace("run-batches"))) keys.push(key);
    return keys;
  };

  it("begins once the record is asked of a store that orders writes, and a write issued then commits with it", async () => {
    const batches = batchesOn(true);
    const before = await committed();
    const write = batches.record("thread", [turn("$a")], "run-1", undefined);
    let durable = false;
    void write.durable.then(() => (durable = true));
    await write.begin;
    expect(durable).toBe(false); // not committed yet: the run goes on meanwhile
    const outbox = store.namespace<string>("outbox").set("m1", "the answer"); // what the run writes before a send
    await Promise.all([write.durable, outbox]);
    expect(await committed()).toBe(before + 1); // one commit carried both, the record first
    const keys: string[] = [];
    for await (const [key] of listNamespace(store.namespace("run-batches"))) keys.push(key);
    expect(keys).toHaveLength(1);
  });

  it("a deferred record: the run begins at once, nothing is written until its first send issues it, then one commit carries both", async () => {
    const batches = batchesOn(true);
    const before = await committed();
    const write = batches.record("thread", [turn("$a")], "run-1", undefined, true);
    await write.begin;
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(await committed()).toBe(before); // no commit of its own while the agent works
    expect(await recordKeys()).toEqual([]);
    await write.issue(); // the first send: its record is asked of the store…
    const outbox = store.namespace<string>("outbox").set("m1", "the answer"); // …and then the send's own record
    await Promise.all([write.durable, outbox]);
    expect(await committed()).toBe(before + 1);
    expect(await recordKeys()).toHaveLength(1);
    await write.issue(); // once only
    expect(await committed()).toBe(before + 1);
  });

  it("a store that does not order writes writes the record before the run begins, deferred or not", async () => {
    const batches = batchesOn(false);
    const write = batches.record("thread", [turn("$a")], "run-1", undefined, true);
    let durable = false;
    void write.durable.then(() => (durable = true));
    await write.begin;
    expect(durable).toBe(true);
    expect(await recordKeys()).toHaveLength(1);
  });

  it("begins only once the record is durable on a store that does not order writes", async () => {
    const batches = batchesOn(false);
    const write = batches.record("thread", [turn("$a")], "run-1", undefined);
    let durable = false;
    void write.durable.then(() => (durable = true));
    await write.begin;
    expect(durable).toBe(true);
  });
});
