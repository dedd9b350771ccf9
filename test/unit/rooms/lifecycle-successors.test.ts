// Thread continuity across room upgrades: every room of an upgrade chain maps to the first room's id.
import Keyv from "keyv";
import { RoomSuccessors } from "../../../src/rooms/lifecycle/upgrades";

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
