// Whether a room streams: STREAMING, overridden by /stream, and never where the room's MSC4357 state turned live
// messaging off (read once per room, then followed from the room's events).
import { LivePolicy } from "../../../src/render/live-policy";
import type { RoomEvent } from "../../../src/matrix/events";
import { silent } from "./support";

function policy(opts: { defaultMode?: "edits" | "final"; setting?: "on" | "off"; state?: Record<string, Record<string, unknown>>; failing?: boolean } = {}) {
  const reads: string[] = [];
  const p = new LivePolicy({
    defaultMode: opts.defaultMode ?? "edits", log: silent,
    roomSetting: async () => opts.setting,
    readState: async (roomId, type) => {
      reads.push(`${roomId} ${type}`);
      if (opts.failing) throw new Error("homeserver down");
      return opts.state?.[type];
    },
  });
  return { p, reads };
}

const stateEvent = (type: string, enabled: boolean): RoomEvent => ({
  event_id: "$s", room_id: "!r:x", sender: "@mod:x", type, state_key: "", content: { enabled }, origin_server_ts: 1,
});

test("STREAMING is the default; /stream overrides it either way", async () => {
  expect(await policy().p.streams("!r:x")).toBe(true);
  expect(await policy({ defaultMode: "final" }).p.streams("!r:x")).toBe(false);
  expect(await policy({ defaultMode: "final", setting: "on" }).p.streams("!r:x")).toBe(true);
  expect(await policy({ setting: "off" }).p.streams("!r:x")).toBe(false);
});

test("a room whose MSC4357 state says enabled: false gets final answers, whatever /stream says; read once", async () => {
  for (const type of ["org.matrix.msc4357.live_messaging", "m.room.live_messaging"]) {
    const { p, reads } = policy({ setting: "on", state: { [type]: { enabled: false } } });
    expect(await p.streams("!r:x")).toBe(false);
    expect(await p.streams("!r:x")).toBe(false);
    expect(reads).toHaveLength(2); // both state types, once
  }
});

test("the room's state changes are followed from its events; an unreadable state counts as allowed", async () => {
  const { p } = policy();
  expect(await p.streams("!r:x")).toBe(true);
  await p.onEvent(stateEvent("org.matrix.msc4357.live_messaging", false));
  expect(await p.streams("!r:x")).toBe(false);
  await p.onEvent(stateEvent("org.matrix.msc4357.live_messaging", true));
  expect(await p.streams("!r:x")).toBe(true);
  const failing = policy({ failing: true });
  expect(await failing.p.streams("!r:x")).toBe(true);
  expect(failing.reads).toHaveLength(1); // no second request to a homeserver that did not answer the first

});
