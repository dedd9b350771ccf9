// The journal on a real sqlite store against what any Matrix user can put in an event: content with toJSON,
// __proto__, constructor and then keys nested up to 900 levels is recorded and recovered as it arrived and never
// blocks the events behind it; an event too deep to write is a poison item, skipped alone.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import pino from "pino";
import { listNamespace } from "../../../src/app/matrix-helpers";
import { parseRoomEvent, type RoomEvent } from "../../../src/matrix/events";
import { Journal, type PoisonItem } from "../../../src/matrix/journal";
import { openStore, type Store } from "../../../src/store";
import { FaultyStoreAdapter, InjectedStoreFault } from "../../support/faulty-store";
import { deepJson, hostileContent, hostileMessageContent } from "../../support/hostile-content";

const ROOM = "!hostile:example.org";

/** A message as the bot receives it: JSON text parsed, then validated at the edge. */
function received(eventId: string, content: Record<string, unknown> | string): RoomEvent {
  const contentJson = typeof content === "string" ? content : JSON.stringify(content);
  const raw = JSON.parse(`{"event_id":${JSON.stringify(eventId)},"room_id":"${ROOM}","sender":"@alice:example.org",`
    + `"type":"m.room.message","origin_server_ts":1700000000000,"content":${contentJson}}`) as unknown;
  const parsed = parseRoomEvent(raw);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.event;
}

/** Refuses writes of keys containing a marker, as often as asked (Infinity: always). */
class RefusingKeys extends FaultyStoreAdapter {
  readonly refuse = new Map<string, number>();
  override async set(key: string, value: unknown, ttl?: number): Promise<unknown> {
    for (const [marker, times] of this.refuse) {
      if (times > 0 && key.includes(marker)) {
        this.refuse.set(marker, times - 1);
        throw new InjectedStoreFault(`injected refusal of ${marker}`);
      }
    }
    return super.set(key, value, ttl);
  }
}

describe("Journal and hostile events", () => {
  let dir: string;
  let refusing: RefusingKeys;
  const poisoned: PoisonItem[] = [];
  const opened: Store[] = [];

  const open = async (): Promise<Journal> => {
    const store = await openStore(`sqlite://${path.join(dir, "bot.sqlite")}`, { logger: pino({ level: "silent" }),
      wrapAdapter: (a) => (refusing = new RefusingKeys(a)) });
    opened.push(store);
    const pending = store.namespace<number>("journal-pending");
    return new Journal({ entries: store.namespace("journal"), pending, listPending: () => listNamespace(pending) },
      pino({ level: "silent" }), { onPoison: (item) => poisoned.push(item) });
  };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mab-journal-hostile-"));
    poisoned.length = 0;
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close().catch(() => undefined)));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("records arbitrary content with hostile keys nested to 900 levels, never blocks the next event, and recovers it as it arrived", async () => {
    const journal = await open();
    const expected: RoomEvent[] = [];
    let n = 0;
    await fc.assert(fc.asyncProperty(hostileMessageContent, async (content) => {
      n += 1;
      const hostile = received(`$hostile-${n}`, content);
      const after = received(`$after-${n}`, { msgtype: "m.text", body: `after ${n}` });
      const fresh = await journal.record([hostile, after]);
      expect(fresh.map((e) => e.event_id)).toEqual([hostile.event_id, after.event_id]);
      expect(await journal.record([received(`$next-${n}`, { msgtype: "m.text", body: "next" })])).toHaveLength(1);
      expected.push(hostile, after, received(`$next-${n}`, { msgtype: "m.text", body: "next" }));
    }), { numRuns: 60, examples: [[hostileContent("900 levels deep, every hostile key")]] });
    expect(poisoned).toEqual([]);

    await opened[0]?.close();
    const recovered = await (await open()).unfinished();
    expect(recovered).toEqual(expected);
    expect(Object.keys(recovered[0]?.content ?? {})).toEqual(Object.keys(expected[0]?.content ?? {}));
  });

  it("skips an event too deep to write as a poison item, alone: its batch is recorded, the next batch too", async () => {
    const journal = await open();
    const tooDeep = received("$too-deep", `{"msgtype":"m.text","body":"x","deep":${deepJson(100_000)}}`);
    const fresh = await journal.record([received("$before", { msgtype: "m.text", body: "a" }), tooDeep, received("$after", { msgtype: "m.text", body: "b" })]);
    expect(fresh.map((e) => e.event_id)).toEqual(["$before", "$after"]);
    expect(poisoned).toEqual([{ roomId: ROOM, eventId: "$too-deep", reason: expect.stringMatching(/^not storable as JSON: /) }]);
    expect(await journal.record([received("$later", { msgtype: "m.text", body: "c" })])).toHaveLength(1);
    expect((await journal.unfinished()).map((e) => e.event_id)).toEqual(["$before", "$after", "$later"]);
  });

  it("hands out at its redelivery an event whose entry was written by an attempt that was refused", async () => {
    const journal = await open();
    const batch = [1, 2, 3].map((i) => received(`$e${i}`, { msgtype: "m.text", body: `${i}` }));
    refusing.refuse.set(`journal:${ROOM}|$e2`, 1); // the entries of $e1 and $e3 are written, then the batch fails
    await expect(journal.record(batch)).rejects.toThrow(InjectedStoreFault);
    expect((await journal.record(batch)).map((e) => e.event_id)).toEqual(["$e1", "$e2", "$e3"]);
    expect(await journal.record(batch)).toEqual([]); // handed out once: a third delivery is a duplicate
  });

  it("recovers pending entries written in the earlier format (the event object itself)", async () => {
    const store = await openStore(`sqlite://${path.join(dir, "bot.sqlite")}`, { logger: pino({ level: "silent" }) });
    const old = received("$old", { msgtype: "m.text", body: ":colon and all" });
    await store.namespace<number>("journal-pending").set(Journal.key(ROOM, "$old"), 1);
    await store.namespace("journal").set(Journal.key(ROOM, "$old"), { status: "pending", event: old, receivedAt: 1 });
    await store.close();
    expect(await (await open()).unfinished()).toEqual([old]);
  });
});
