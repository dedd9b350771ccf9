// Inbound events are validated at the edge: ids must carry their sigil and fit the spec's 255 limit, so that junk
// from a broken homeserver or bridge fails only itself instead of breaking something deeper (thread keys, store keys).
import { parseRoomEvent } from "../../../src/matrix/events";

const good = { event_id: "$e1", room_id: "!r:example.org", sender: "@alice:example.org", type: "m.room.message", content: { body: "hi" } };

describe("parseRoomEvent", () => {
  it("accepts a well-formed event", () => {
    expect(parseRoomEvent(good)).toMatchObject({ ok: true });
  });

  it.each([
    ["a room id without !", { room_id: "A%Rm3" }],
    ["a sender without @", { sender: "alice" }],
    ["an event id without $", { event_id: "e1" }],
    ["a bare sigil", { room_id: "!" }],
    ["an id over 255 characters", { event_id: `$${"x".repeat(300)}` }],
    ["content that is not an object", { content: "hi" }],
  ])("rejects %s", (_what, patch) => {
    expect(parseRoomEvent({ ...good, ...patch })).toMatchObject({ ok: false });
  });
});
