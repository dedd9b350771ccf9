// Thread continuity across room upgrades: every room of an upgrade chain maps to the first room's id.
import Keyv from "keyv";
import { RoomChecks } from "../../../src/rooms/lifecycle/room-checks";
import { RoomConversations, RoomSuccessors, threadRoomOf } from "../../../src/rooms/lifecycle/upgrades";

describe("RoomSuccessors", () => {
  it("maps a room to itself until it replaces an upgraded room, then to the first room of the chain", async () => {
    const store = new Keyv<string>();
    const successors = new RoomSuccessors(store);
    expect(await successors.threadRoomFor("!a:e.org")).toBe("!a:e.org");
    expect(await successors.record("!a:e.org", "!b:e.org")).toBe("!a:e.org");
    expect(await successors.record("!b:e.org", "!c")).toBe("!a:e.org");
    expect(await successors.threadRoomFor("!b:e.org")).toBe("!a:e.org");
    expect(await successors.threadRoomFor("!c")).toBe("!a:e.org");
    expect(await successors.isSuccessor("!c")).toBe(true);
    expect(await successors.isSuccessor("!a:e.org")).toBe(false);
    // Durable: a fresh instance (after a restart) reads the same answers from the store.
    expect(await new RoomSuccessors(store).threadRoomFor("!c")).toBe("!a:e.org");
  });

  it("records a replayed tombstone idempotently", async () => {
    const successors = new RoomSuccessors(new Keyv<string>());
    await successors.record("!a:e.org", "!b:e.org");
    await successors.record("!a:e.org", "!b:e.org");
    expect(await successors.threadRoomFor("!b:e.org")).toBe("!a:e.org");
  });
});

describe("RoomSuccessors and RoomConversations past their memory", () => {
  it("a room dropped from memory still maps to the first room of its chain (read from the store again)", async () => {
    const store = new Keyv<string>();
    const successors = new RoomSuccessors(store, 1);
    await successors.record("!a:e.org", "!b:e.org");
    for (let i = 0; i < 5; i++) expect(await successors.threadRoomFor(`!other${i}:e.org`)).toBe(`!other${i}:e.org`);
    expect(await successors.threadRoomFor("!b:e.org")).toBe("!a:e.org");
    expect(await successors.isSuccessor("!b:e.org")).toBe(true);
  });

  it("a room dropped from memory is still a known conversation, and its first-seen time is not rewritten", async () => {
    const store = new Keyv<unknown>();
    const written: string[] = [];
    const set = store.set.bind(store);
    store.set = (key, value, ttl) => {
      written.push(key);
      return set(key, value, ttl);
    };
    const conversations = new RoomConversations(store, 1);
    await conversations.note("!a:e.org");
    await conversations.note("!b:e.org"); // !a:e.org dropped from memory
    await conversations.note("!a:e.org");
    expect(await conversations.has("!a:e.org")).toBe(true);
    expect(written).toEqual(["!a:e.org", "!b:e.org"]);
  });
});

describe("threadRoomOf (asked for every message)", () => {
  it("answers from memory once a room is noted and mapped, and still waits for a check of the room under way", async () => {
    const checks = new RoomChecks();
    const store = new Keyv<unknown>();
    const reads: string[] = [];
    const get = store.get.bind(store);
    store.get = ((key: string) => (reads.push(key), get(key))) as typeof store.get;
    const conversations = new RoomConversations(store);
    const successors = new RoomSuccessors(new Keyv<string>());
    await successors.record("!a:e.org", "!b:e.org");
    expect(await threadRoomOf("!b:e.org", checks, conversations, successors)).toBe("!a:e.org");
    expect(await conversations.has("!b:e.org")).toBe(true); // noted on the first message
    reads.length = 0;
    expect(await threadRoomOf("!b:e.org", checks, conversations, successors)).toBe("!a:e.org");
    expect(reads).toEqual([]); // from memory
    // A check under way (a replacement room being verified): the thread room waits for its verdict.
    let decide!: (stays: boolean) => void;
    void checks.run("!b:e.org", () => new Promise<boolean>((resolve) => (decide = resolve)));
    let answered: string | undefined;
    const asked = threadRoomOf("!b:e.org", checks, conversations, successors).then((room) => (answered = room));
    for (let i = 0; i < 20; i++) await Promise.resolve();
    expect(answered).toBeUndefined();
    decide(true);
    await asked;
    expect(answered).toBe("!a:e.org");
  });
});
