// The room settings cache: a read overtaken by a write of its room is not cached, and nothing is kept per room once
// its reads are done (a counter per room ever written grew with the rooms: bench/README.md, "Memory and fan-out").
import { defaultRoomSettings } from "../../../src/rooms/settings";
import { SettingsCache } from "../../../src/rooms/settings-cache";

const ROOM = "!room:example.org";

describe("SettingsCache", () => {
  it("a read that a write of its room overtook may not be cached; one that nothing overtook may", () => {
    const cache = new SettingsCache(10);
    const overtaken = cache.beginRead(ROOM);
    cache.forget(ROOM); // the room's settings were written while the read was under way
    expect(cache.endRead(overtaken)).toBe(false);
    const clean = cache.beginRead(ROOM);
    expect(cache.endRead(clean)).toBe(true);
  });

  it("a write of another room does not spoil a read", () => {
    const cache = new SettingsCache(10);
    const read = cache.beginRead(ROOM);
    cache.forget("!other:example.org");
    expect(cache.endRead(read)).toBe(true);
  });

  it("two reads of one room: a write between them spoils both, and the tracking ends with the last", () => {
    const cache = new SettingsCache(10);
    const first = cache.beginRead(ROOM);
    const second = cache.beginRead(ROOM);
    cache.forget(ROOM);
    expect(cache.endRead(first)).toBe(false);
    expect(cache.readsInFlight).toBe(1);
    expect(cache.endRead(second)).toBe(false);
    expect(cache.readsInFlight).toBe(0);
  });

  it("keeps nothing per room after its reads and writes: 5,000 rooms written and read leave only the bounded values", () => {
    const cache = new SettingsCache(100);
    for (let i = 0; i < 5000; i++) {
      const roomId = `!r${i}:example.org`;
      const read = cache.beginRead(roomId);
      cache.forget(roomId);
      if (cache.endRead(read)) cache.remember(roomId, defaultRoomSettings());
      cache.remember(roomId, defaultRoomSettings());
    }
    expect(cache.readsInFlight).toBe(0);
    expect(cache.size).toBe(100);
  });

  it("size 0 caches nothing but still returns the value, frozen", () => {
    const cache = new SettingsCache(0);
    const value = cache.remember(ROOM, defaultRoomSettings());
    expect(Object.isFrozen(value)).toBe(true);
    expect(cache.get(ROOM)).toBeUndefined();
  });
});
