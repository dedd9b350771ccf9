// parseRoomEvent at the edge never throws, whatever JSON stands in any field: zod's own length check compares
// any input that has a `length` (found by the fault suite's fuzz: `{"length": [{"toString": 1}]}` made it throw,
// and the whole transaction was refused).
import fc from "fast-check";
import { parseRoomEvent } from "../../../src/matrix/events";
import { hostileJson } from "../../support/hostile-content";
import { AppserviceFixture, message } from "../appservice/support";

const FIELDS = ["event_id", "room_id", "sender", "type", "content", "origin_server_ts", "state_key", "unsigned", "redacts"] as const;
const LENGTH_BOMB = JSON.parse('{"length":[{"toString":1,"valueOf":1}]}') as unknown;

describe("parseRoomEvent with hostile values", () => {
  it("returns a reason instead of throwing, for any JSON in any field", () => {
    const base = message("$e:example.org", "hi");
    fc.assert(fc.property(fc.constantFrom(...FIELDS), fc.oneof(hostileJson, fc.constant(LENGTH_BOMB)), (field, value) => {
      const result = parseRoomEvent({ ...base, [field]: value });
      expect(typeof result.ok).toBe("boolean");
    }), { numRuns: 1000 });
    expect(parseRoomEvent({ ...base, event_id: LENGTH_BOMB })).toEqual({ ok: false, reason: expect.stringMatching(/^event: not parseable/) });
    expect(parseRoomEvent(LENGTH_BOMB, "!r:example.org").ok).toBe(false);
  });

  it("a transaction with such an event is accepted with its other events", async () => {
    const as = await new AppserviceFixture().start();
    try {
      const reply = await as.put("t-bomb", { events: [message("$a:example.org", "a"), { ...message("$b:example.org", "b"), sender: LENGTH_BOMB }] });
      expect(reply.status).toBe(200);
      expect(as.items.map((i) => (i.kind === "event" ? i.event.event_id : i.kind))).toEqual(["$a:example.org"]);
      expect((await as.put("t-body", { events: LENGTH_BOMB })).status).toBe(400);
    } finally {
      await as.close();
    }
  });
});
