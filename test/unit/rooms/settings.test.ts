// Room settings and the proactive opt-in index on a real sqlite store (temp dir), with store faults injected
// through the keyv adapter wrapper.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import pino from "pino";
import { RoomSettingsStore, SettingsUnavailableError, type RoomSettings } from "../../../src/rooms/settings";
import { openStore, type Store } from "../../../src/store";
import { FaultyStoreAdapter } from "../../support/faulty-store";
import { LogCapture } from "../../support/log-capture";

const ROOM = "!room:example.org";
const V12_ROOM = "!AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde";

describe("RoomSettingsStore", () => {
  let dir: string;
  let url: string;
  let capture: LogCapture;
  let faulty: FaultyStoreAdapter;
  const opened: Store[] = [];

  const open = async (): Promise<{ store: Store; settings: RoomSettingsStore }> => {
    const log = pino({ level: "debug" }, capture);
    const store = await openStore(url, { logger: pino({ level: "silent" }), wrapAdapter: (a) => (faulty = new FaultyStoreAdapter(a)) });
    opened.push(store);
    const settings = new RoomSettingsStore({
      settings: store.namespace<unknown>("room-settings"),
      proactiveIndex: store.namespace<number>("proactive-rooms"),
      log, retries: 2, retryDelayMs: 1,
    });
    return { store, settings };
  };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mab-settings-"));
    url = `sqlite://${path.join(dir, "bot.sqlite")}`;
    capture = new LogCapture();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close().catch(() => undefined)));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("answers the defaults for a room it knows nothing about", async () => {
    const { settings } = await open();
    expect(await settings.get(ROOM)).toEqual({ version: 1, threadGeneration: 0, replyMode: "mention", threads: "follow" });
    expect(await settings.isProactive(ROOM)).toBe(false);
  });

  it("keeps changes, generation bumps and opt-ins across closing and reopening the store", async () => {
    const first = await open();
    await first.settings.update(ROOM, { replyMode: "all", threads: "follow" });
    expect(await first.settings.bumpThreadGeneration(ROOM)).toBe(1);
    expect(await first.settings.bumpThreadGeneration(ROOM)).toBe(2);
    await first.settings.setProactive(ROOM, true);
    await first.store.close();

    const second = await open();
    expect(await second.settings.get(ROOM)).toEqual({ version: 1, threadGeneration: 2, replyMode: "all", threads: "follow" });
    expect(await second.settings.isProactive(ROOM)).toBe(true);
    expect(await second.settings.proactiveRooms()).toEqual([ROOM]);
  });

  it("a partial update leaves the other fields alone (the generation is not reset by /mode)", async () => {
    const { settings } = await open();
    await settings.bumpThreadGeneration(ROOM);
    expect(await settings.update(ROOM, { replyMode: "all", threads: "follow" })).toEqual({ version: 1, threadGeneration: 1, replyMode: "all", threads: "follow" });
    expect(await settings.update(ROOM, {})).toEqual({ version: 1, threadGeneration: 1, replyMode: "all", threads: "follow" });
  });

  it("concurrent bumps in one room all count", async () => {
    const { settings } = await open();
    const results = await Promise.all(Array.from({ length: 10 }, () => settings.bumpThreadGeneration(ROOM)));
    expect([...results].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect((await settings.get(ROOM)).threadGeneration).toBe(10);
  });

  it.each<[string, unknown]>([
    ["a wrong version", { version: 2, threadGeneration: 3, replyMode: "all" }],
    ["a field of the wrong type", { version: 1, threadGeneration: "three", replyMode: "all" }],
    ["an unknown reply mode", { version: 1, threadGeneration: 0, replyMode: "sometimes" }],
    ["not an object", "secret-looking text 12345"],
  ])("replaces %s by the defaults for that room only, and logs the room but not the content", async (_what, corrupt) => {
    const { store, settings } = await open();
    await settings.update("!other:example.org", { replyMode: "all", threads: "follow" });
    await store.namespace<unknown>("room-settings").set(ROOM, corrupt);
    expect(await settings.get(ROOM)).toEqual({ version: 1, threadGeneration: 0, replyMode: "mention", threads: "follow" });
    const warning = capture.find((l) => l.level === 40 && l["roomId"] === ROOM);
    expect(warning?.msg).toMatch(/unreadable.*defaults/);
    expect(capture.raw.join("\n")).not.toContain(JSON.stringify(corrupt).slice(1, 12));
    // replaced in the store: the next read is clean and logs nothing new
    const warningsBefore = capture.lines().filter((l) => l.level === 40).length;
    expect(await settings.get(ROOM)).toEqual({ version: 1, threadGeneration: 0, replyMode: "mention", threads: "follow" });
    expect(capture.lines().filter((l) => l.level === 40)).toHaveLength(warningsBefore);
    expect(await settings.get("!other:example.org")).toMatchObject({ replyMode: "all", threads: "follow" });
  });

  it("fills fields missing from an older value with their defaults", async () => {
    const { store, settings } = await open();
    await store.namespace<unknown>("room-settings").set(ROOM, { version: 1, threadGeneration: 4 });
    expect(await settings.get(ROOM)).toEqual({ version: 1, threadGeneration: 4, replyMode: "mention", threads: "follow" });
  });

  it("the opt-in index lists exactly the opted-in rooms (v12 ids included), never other settings", async () => {
    const { settings } = await open();
    const rooms = ["!a:example.org", "!b:example.org", V12_ROOM, "!c:other.example"];
    for (const room of rooms) await settings.setProactive(room, true);
    await settings.update("!only-settings:example.org", { replyMode: "all", threads: "follow" });
    await settings.setProactive("!b:example.org", false);
    await settings.forgetProactive("!c:other.example");
    await settings.setProactive("!never:example.org", false);
    expect(await settings.proactiveRooms()).toEqual([V12_ROOM, "!a:example.org"].sort());
    expect(await settings.isProactive("!b:example.org")).toBe(false);
    expect(await settings.isProactive(V12_ROOM)).toBe(true);
  });

  it("opting in twice keeps the first opt-in time", async () => {
    const { store, settings } = await open();
    await settings.setProactive(ROOM, true);
    const first = await store.namespace<number>("proactive-rooms").get(ROOM);
    await new Promise((r) => setTimeout(r, 5));
    await settings.setProactive(ROOM, true);
    expect(await store.namespace<number>("proactive-rooms").get(ROOM)).toBe(first);
    expect(typeof first).toBe("number");
  });

  it("moveRoom carries settings and the opt-in to the upgraded room and clears the old one", async () => {
    const { settings } = await open();
    await settings.update(ROOM, { replyMode: "all", threads: "follow" });
    await settings.bumpThreadGeneration(ROOM);
    await settings.setProactive(ROOM, true);
    await settings.moveRoom(ROOM, V12_ROOM);
    expect(await settings.get(V12_ROOM)).toEqual<RoomSettings>({ version: 1, threadGeneration: 1, replyMode: "all", threads: "follow" });
    expect(await settings.proactiveRooms()).toEqual([V12_ROOM]);
    expect(await settings.get(ROOM)).toEqual({ version: 1, threadGeneration: 0, replyMode: "mention", threads: "follow" });
  });

  it("moveRoom never overwrites settings the replacement already has; the opt-in still moves", async () => {
    const { settings } = await open();
    await settings.update(ROOM, { replyMode: "all", threads: "follow" });
    await settings.setProactive(ROOM, true);
    await settings.bumpThreadGeneration(V12_ROOM);
    await settings.moveRoom(ROOM, V12_ROOM);
    expect(await settings.get(V12_ROOM)).toEqual<RoomSettings>({ version: 1, threadGeneration: 1, replyMode: "mention", threads: "follow" });
    expect(await settings.get(ROOM)).toEqual<RoomSettings>({ version: 1, threadGeneration: 0, replyMode: "all", threads: "follow" });
    expect(await settings.proactiveRooms()).toEqual([V12_ROOM]);
  });

  it("reads a room's settings from the store once, then from memory; changes are seen by every store over the same data", async () => {
    const { store, settings } = await open();
    await settings.update(ROOM, { replyMode: "all", threads: "follow" });
    const reads = faulty.calls.get;
    for (let i = 0; i < 5; i++) expect((await settings.get(ROOM)).replyMode).toBe("all");
    expect(faulty.calls.get).toBe(reads);
    // A second store over the same namespaces (the room lifecycle keeps its own) shares what it changes.
    const other = new RoomSettingsStore({ settings: store.namespace<unknown>("room-settings"),
      proactiveIndex: store.namespace<number>("proactive-rooms"), log: pino({ level: "silent" }) });
    await other.bumpThreadGeneration(ROOM);
    expect(await settings.get(ROOM)).toEqual({ version: 1, threadGeneration: 1, replyMode: "all", threads: "follow" });
    await other.moveRoom(ROOM, V12_ROOM);
    expect(await settings.get(ROOM)).toEqual({ version: 1, threadGeneration: 0, replyMode: "mention", threads: "follow" });
    expect(await settings.get(V12_ROOM)).toEqual({ version: 1, threadGeneration: 1, replyMode: "all", threads: "follow" });
  });

  it("a failed save leaves no stale value in memory", async () => {
    const { settings } = await open();
    expect((await settings.get(ROOM)).replyMode).toBe("mention");
    faulty.failNext("set", 3);
    await expect(settings.update(ROOM, { replyMode: "all", threads: "follow" })).rejects.toBeInstanceOf(SettingsUnavailableError);
    const reads = faulty.calls.get;
    expect((await settings.get(ROOM)).replyMode).toBe("mention"); // what the store has, read again
    expect(faulty.calls.get).toBe(reads + 1);
  });

  it("retries a failing store and succeeds when it recovers in time", async () => {
    const { settings } = await open();
    faulty.failNext("set", 2);
    await settings.update(ROOM, { replyMode: "all", threads: "follow" });
    expect(faulty.failures.set).toBe(2);
    expect((await settings.get(ROOM)).replyMode).toBe("all");
  });

  it("an outage that outlasts the retries surfaces as SettingsUnavailableError with a user text", async () => {
    const { settings } = await open();
    faulty.failAll(true);
    const before = faulty.calls.set;
    const error = await settings.setProactive(ROOM, true).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(SettingsUnavailableError);
    expect((error as SettingsUnavailableError).userMessage).toBe(
      "I couldn't save that because my storage is unavailable right now. Please try again in a minute.");
    // a failed read is never taken for "not opted in": the whole call fails
    await expect(settings.isProactive(ROOM)).rejects.toBeInstanceOf(SettingsUnavailableError);
    await expect(settings.proactiveRooms()).rejects.toBeInstanceOf(SettingsUnavailableError);
    await expect(settings.get(ROOM)).rejects.toBeInstanceOf(SettingsUnavailableError);
    expect(faulty.calls.set).toBe(before); // the read before the write already failed, 3 times
    expect(faulty.failures.get).toBeGreaterThanOrEqual(3 * 4);
    faulty.heal();
    await settings.setProactive(ROOM, true);
    expect(await settings.proactiveRooms()).toEqual([ROOM]);
  });
});
