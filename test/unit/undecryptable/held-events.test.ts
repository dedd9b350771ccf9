// The store of unreadable encrypted events on a real sqlite store: kept across a restart, found by room key (room +
// Megolm session), bounded by count (the oldest dropped) and by age, each drop counted.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import pino from "pino";
import { listNamespace } from "../../../src/app/matrix-helpers";
import type { RoomEvent } from "../../../src/matrix/events";
import { openStore, type Store } from "../../../src/store";
import { HeldEvents, type HeldRecord } from "../../../src/rooms/undecryptable/held-events";

const encrypted = (n: number, sessionId = "S1", roomId = "!r:example.org"): RoomEvent => ({
  event_id: `$e${n}`, room_id: roomId, type: "m.room.encrypted", sender: "@alice:example.org", origin_server_ts: 1_700_000_000_000 + n,
  content: { algorithm: "m.megolm.v1.aes-sha2", sender_key: "K", session_id: sessionId, ciphertext: `c${n}` },
});

describe("HeldEvents", () => {
  let dir: string;
  let clock: number;
  const dropped: Array<[number, string]> = [];
  const opened: Store[] = [];
  const open = async (max = 3, maxAgeMs = 60_000): Promise<HeldEvents> => {
    const store = await openStore(`sqlite://${path.join(dir, "bot.sqlite")}`, { logger: pino({ level: "silent" }) });
    opened.push(store);
    const kv = store.namespace<HeldRecord>("undecryptable-held");
    const held = new HeldEvents(kv, { max, maxAgeMs, list: () => listNamespace(kv), now: () => clock,
      onDropped: (count, why) => dropped.push([count, why]) }, pino({ level: "silent" }));
    await held.load();
    return held;
  };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "latekeys-held-"));
    clock = Date.now();
    dropped.length = 0;
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close().catch(() => undefined)));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("keeps events across a restart and finds them by room and session", async () => {
    const held = await open();
    expect(await held.hold(encrypted(1))).toBe(true);
    expect(await held.hold(encrypted(2, "S2"))).toBe(true);
    expect(await held.hold({ ...encrypted(3), content: { algorithm: "m.olm.v1" } })).toBe(false); // no Megolm session: nothing to wait for
    await opened[0]?.close();

    const again = await open();
    expect(again.size).toBe(2);
    const [ref] = again.matching("!r:example.org", "S1");
    expect(ref).toMatchObject({ eventId: "$e1", sessionId: "S1" });
    expect(await again.event(ref!)).toEqual(encrypted(1));
    expect(again.matching("!other:example.org", "S1")).toEqual([]);
    expect(again.othersInRoom("!r:example.org", "$e1")).toBe(1);
    await again.release(ref!);
    expect(again.has(ref!)).toBe(false);
    expect(again.all().map((r) => r.eventId)).toEqual(["$e2"]);
  });

  it("drops the oldest past the count bound and what is past the age bound, and counts both", async () => {
    const held = await open(2, 60_000);
    for (const n of [1, 2, 3]) {
      clock += 1;
      await held.hold(encrypted(n));
    }
    expect(held.all().map((r) => r.eventId)).toEqual(["$e2", "$e3"]);
    expect(dropped).toEqual([[1, "full"]]);
    clock += 1;
    await held.hold(encrypted(2)); // held again (routed again after a restart): still the oldest, its age goes on
    expect(held.all().map((r) => r.eventId)).toEqual(["$e2", "$e3"]);
    await opened[0]?.close();

    clock += 60_000; // both kept a minute: expired by the next start
    const again = await open(2, 60_000);
    expect(again.size).toBe(0);
    expect(dropped).toEqual([[1, "full"], [2, "expired"]]);
  });
});
