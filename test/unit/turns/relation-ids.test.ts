// A relation's event ids come from any sender's content: only real event ids count. A thread "root" of "" or "x"
// used to reach the thread key encoder, which threw, so the message failed routing 8 times, holding its room
// (found by the fault suite's fuzz once it sent hostile content).
import type { RoomEvent } from "../../../src/matrix/events";
import { relationOf } from "../../../src/turns/classify";

const withRelation = (relatesTo: unknown): RoomEvent => ({
  event_id: "$e", room_id: "!r:x", sender: "@a:x", type: "m.room.message",
  content: { msgtype: "m.text", body: "hi", "m.relates_to": relatesTo },
}) as RoomEvent;

describe("relationOf", () => {
  it.each([["", "empty"], ["$", "sigil only"], ["x", "no sigil"], [`$${"a".repeat(300)}`, "too long"], ["$a\ud800", "lone surrogate"], [7, "a number"]])(
    "ignores an event id that is not one (%j: %s)", (id: string | number, _what: string) => {
      expect(relationOf(withRelation({ rel_type: "m.thread", event_id: id, "m.in_reply_to": { event_id: id } })))
        .toEqual({ relType: "m.thread", eventId: undefined, inReplyTo: undefined });
    });

  it("keeps real ones, astral characters included", () => {
    expect(relationOf(withRelation({ rel_type: "m.thread", event_id: "$root🧵", "m.in_reply_to": { event_id: "$reply:example.org" } })))
      .toEqual({ relType: "m.thread", eventId: "$root🧵", inReplyTo: "$reply:example.org" });
  });
});
