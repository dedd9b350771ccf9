// Journal.reopen on a real sqlite store: an encrypted event the bot could not read (done) is recorded again as it
// reads now, handed out after a restart if it was not completed, and reopened only once, whether pending or done.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import pino from "pino";
import { listNamespace } from "../../../src/app/matrix-helpers";
import type { RoomEvent } from "../../../src/matrix/events";
import { Journal } from "../../../src/matrix/journal";
import { openStore, type Store } from "../../../src/store";

const ROOM = "!r:example.org";
const encrypted: RoomEvent = { event_id: "$late", room_id: ROOM, type: "m.room.encrypted", sender: "@alice:example.org",
  origin_server_ts: 1_700_000_000_000, content: { algorithm: "m.megolm.v1.aes-sha2", session_id: "S1", ciphertext: "…" } };
const clear: RoomEvent = { ...encrypted, type: "m.room.message", content: { msgtype: "m.text", body: "read late" } };

describe("Journal.reopen (a message read after its room key came late)", () => {
  let dir: string;
  const opened: Store[] = [];
  const open = async (): Promise<Journal> => {
    const store = await openStore(`sqlite://${path.join(dir, "bot.sqlite")}`, { logger: pino({ level: "silent" }) });
    opened.push(store);
    const pending = store.namespace<number>("journal-pending");
    return new Journal({ entries: store.namespace("journal"), pending, listPending: () => listNamespace(pending) }, pino({ level: "silent" }));
  };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "latekeys-journal-"));
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close().catch(() => undefined)));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("reopens a done event once; after a crash the clear event comes back unfinished, and never again once done", async () => {
    const journal = await open();
    expect(await journal.record([encrypted])).toEqual([encrypted]);
    await journal.complete(ROOM, "$late"); // the notice was posted; the event is done as unreadable
    expect(await journal.reopen(clear)).toBe(true);
    expect(await journal.reopen(clear)).toBe(false); // a second key callback, a retry: not twice
    expect(await journal.isDone(ROOM, "$late")).toBe(false);

    await opened[0]?.close(); // a SIGKILL between the late decryption and the answer
    const again = await open();
    expect(await again.unfinished()).toEqual([clear]);
    expect(await again.reopen(clear)).toBe(false); // the sweep at start finds it reopened already
    expect(await again.record([encrypted])).toEqual([]); // a redelivery of the encrypted event is not new either
    await again.complete(ROOM, "$late");
    expect(await again.isDone(ROOM, "$late")).toBe(true);

    await opened[1]?.close();
    const third = await open();
    expect(await third.unfinished()).toEqual([]);
    expect(await third.reopen(clear)).toBe(false); // answered: never reopened again
  });
});
