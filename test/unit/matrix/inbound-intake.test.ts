// The intake on the real journal and a real sqlite store: a batch refused again and again because of one event is
// taken apart so that event is skipped and the others go on; a store outage, where every event fails, still
// refuses the whole batch (nothing acknowledged is lost) and it goes through in full once the store is back.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import pino from "pino";
import { listNamespace } from "../../../src/app/matrix-helpers";
import type { InboundItem, RoomEvent } from "../../../src/matrix/events";
import { InboundIntake } from "../../../src/matrix/inbound-intake";
import { Journal, type PoisonItem } from "../../../src/matrix/journal";
import { openStore, type Store } from "../../../src/store";
import { FaultyStoreAdapter, InjectedStoreFault } from "../../support/faulty-store";
import { LogCapture } from "../../support/log-capture";

const ROOM = "!r:example.org";
const message = (id: string): InboundItem => ({ kind: "event", event: {
  event_id: id, room_id: ROOM, sender: "@alice:example.org", type: "m.room.message", content: { msgtype: "m.text", body: id },
} as RoomEvent });

/** Refuses every write of a key containing `marker` (an event the store will not take, for whatever reason). */
class RefusingKey extends FaultyStoreAdapter {
  marker: string | undefined;
  override async set(key: string, value: unknown, ttl?: number): Promise<unknown> {
    if (this.marker !== undefined && key.includes(this.marker)) throw new InjectedStoreFault(`refused ${key}`);
    return super.set(key, value, ttl);
  }
}

describe("InboundIntake", () => {
  let dir: string;
  let store: Store;
  let adapter: RefusingKey;
  let journal: Journal;
  let intake: InboundIntake;
  const logs = new LogCapture();
  const handedOut: string[] = [];
  const hooks = { poisoned: [] as PoisonItem[], refused: 0, accepted: 0 };

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mab-intake-"));
    store = await openStore(`sqlite://${path.join(dir, "bot.sqlite")}`, { logger: pino({ level: "silent" }),
      wrapAdapter: (a) => (adapter = new RefusingKey(a)) });
    const pending = store.namespace<number>("journal-pending");
    journal = new Journal({ entries: store.namespace("journal"), pending, listPending: () => listNamespace(pending) },
      pino({ level: "silent" }), { onPoison: (item) => intake.poisoned(item) });
    handedOut.length = 0;
    Object.assign(hooks, { poisoned: [], refused: 0, accepted: 0 });
    intake = new InboundIntake({
      handle: async (items) => {
        const fresh = await journal.record(items.flatMap((i) => (i.kind === "event" ? [i.event] : [])));
        handedOut.push(...fresh.map((e) => e.event_id));
        return { journaled: fresh.length };
      },
      storeWorks: () => store.healthCheck(), log: pino({ level: "warn" }, logs),
      onPoisoned: (item) => hooks.poisoned.push(item), onRefused: () => (hooks.refused += 1), onAccepted: () => (hooks.accepted += 1),
    });
  });
  afterEach(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** What the homeserver does: sends the same batch again until it is accepted (at most `max` times). */
  async function deliverUntilAccepted(batch: InboundItem[], max = 10): Promise<number> {
    for (let attempt = 1; attempt <= max; attempt++) {
      try {
        await intake.onBatch(batch);
        return attempt;
      } catch {
        // refused: the homeserver retries
      }
    }
    throw new Error(`still refused after ${max} attempts`);
  }

  it("skips an event the store keeps refusing after three refusals, and hands out the rest of its batch in order", async () => {
    adapter.marker = "$bad";
    const batch = [message("$a"), message("$bad"), message("$b")];
    expect(await deliverUntilAccepted(batch)).toBe(4);
    expect(handedOut).toEqual(["$a", "$b"]);
    expect(hooks.poisoned).toEqual([{ roomId: ROOM, eventId: "$bad", reason: expect.stringContaining("InjectedStoreFault") }]);
    expect(intake.stats()).toEqual({ poisonedEvents: 1, refusedBatches: 3 });
    expect(hooks).toMatchObject({ refused: 3, accepted: 1 });
    expect(logs.lines().map((l) => l.msg)).toEqual([
      "inbound batch refused repeatedly; taking its events one by one", "inbound event could not be stored; skipped"]);
    expect(logs.find((l) => l.msg === "inbound event could not be stored; skipped")).toMatchObject({ roomId: ROOM, eventId: "$bad" });

    // Accepted: the next batch goes whole again.
    adapter.marker = undefined;
    expect(await deliverUntilAccepted([message("$c")])).toBe(1);
    expect(handedOut).toEqual(["$a", "$b", "$c"]);
  });

  it("refuses every attempt during a store outage, poisons nothing, and takes the whole batch once the store is back", async () => {
    adapter.failAll(true);
    const batch = [message("$x"), message("$y")];
    for (let attempt = 1; attempt <= 6; attempt++) await expect(intake.onBatch(batch)).rejects.toThrow(InjectedStoreFault);
    expect(intake.stats()).toEqual({ poisonedEvents: 0, refusedBatches: 6 });
    expect(hooks.accepted).toBe(0);
    adapter.failAll(false);
    expect(await deliverUntilAccepted(batch)).toBe(1);
    expect(handedOut).toEqual(["$x", "$y"]);
    expect(hooks.poisoned).toEqual([]);
  });

  it("counts a poison event the journal found at once, without refusing its batch", async () => {
    const deep = JSON.parse(`{"msgtype":"m.text","body":"x","d":${"[".repeat(100_000)}${"]".repeat(100_000)}}`) as Record<string, unknown>;
    const tooDeep: InboundItem = { kind: "event", event: { ...(message("$deep") as { event: RoomEvent }).event, content: deep } };
    expect(await deliverUntilAccepted([message("$1"), tooDeep, message("$2")])).toBe(1);
    expect(handedOut).toEqual(["$1", "$2"]);
    expect(intake.stats()).toEqual({ poisonedEvents: 1, refusedBatches: 0 });
  });
});
