// Validation of m.space.child entries and join rules, against hostile input.
import fc from "fast-check";
import { childrenInState, isRoomId, joinRuleOf, parseSpaceChild } from "../../../src/rooms/lifecycle/space-children";
import { cleanTitle, DEFAULT_CHAT_TITLE, MAX_TITLE_LENGTH } from "../../../src/rooms/lifecycle/chat-rooms";

describe("space children", () => {
  it("accepts room ids with and without a server part, and nothing else", () => {
    for (const id of ["!abc:example.org", "!abc:example.org:8448", "!abc:[::1]", "!Rqnc-F_xAbCdEfGhIjKlMnOpQrStUvWxYz0123456789ab"]) {
      expect(isRoomId(id)).toBe(true);
    }
    for (const id of ["abc:example.org", "#alias:example.org", "!has space:x", "!", "!a:b c", `!${"x".repeat(300)}:e.org`, 42, null]) {
      expect(isRoomId(id)).toBe(false);
    }
  });

  it("reads present and removed children, and refuses malformed ones", () => {
    expect(parseSpaceChild("!a:e.org", { via: ["e.org"] }, 5)).toEqual({ ok: true, entry: { childId: "!a:e.org", present: true, via: ["e.org"] } });
    expect(parseSpaceChild("!a:e.org", {}, 5)).toEqual({ ok: true, entry: { childId: "!a:e.org", present: false } });
    expect(parseSpaceChild("!a:e.org", { via: [] }, 5)).toEqual({ ok: true, entry: { childId: "!a:e.org", present: false } });
    expect(parseSpaceChild("nope", { via: ["e.org"] }, 5).ok).toBe(false);
    expect(parseSpaceChild("!a:e.org", { via: "e.org" }, 5).ok).toBe(false);
    expect(parseSpaceChild("!a:e.org", { via: [1, {}, "bad server!"] }, 5).ok).toBe(false);
    expect(parseSpaceChild("!a:e.org", "not an object", 5).ok).toBe(false);
    const many = parseSpaceChild("!a:e.org", { via: ["a.org", "b.org", "c.org", "a.org"] }, 2);
    expect(many).toEqual({ ok: true, entry: { childId: "!a:e.org", present: true, via: ["a.org", "b.org"] } });
  });

  it("never throws on arbitrary state", () => {
    fc.assert(fc.property(fc.array(fc.anything()), (events) => {
      const { present, malformed } = childrenInState(events, 3);
      expect(present.length + malformed).toBeLessThanOrEqual(events.length);
    }));
  });

  it("reads a join rule and the rooms a restricted rule admits the members of", () => {
    const space = "!space:e.org";
    expect(joinRuleOf({ join_rule: "public" })).toEqual({ rule: "public", allowRooms: [] });
    expect(joinRuleOf({ join_rule: "restricted", allow: [{ type: "m.room_membership", room_id: space }] })).toEqual({ rule: "restricted", allowRooms: [space] });
    expect(joinRuleOf({ join_rule: "knock_restricted", allow: [{ type: "m.room_membership", room_id: space }, { type: "x", room_id: "!o:e.org" }] }))
      .toEqual({ rule: "knock_restricted", allowRooms: [space] });
    expect(joinRuleOf({ join_rule: "restricted", allow: [{ type: "m.room_membership", room_id: "not a room" }, 42] }).allowRooms).toEqual([]);
    expect(joinRuleOf({ join_rule: "restricted", allow: "junk" }).allowRooms).toEqual([]);
    expect(joinRuleOf({ join_rule: "invite" })).toEqual({ rule: "invite", allowRooms: [] });
    expect(joinRuleOf({})).toEqual({ rule: "invite", allowRooms: [] });
  });
});

describe("/new titles", () => {
  it("are one trimmed line of bounded length, with a default", () => {
    expect(cleanTitle(undefined)).toBe(DEFAULT_CHAT_TITLE);
    expect(cleanTitle(" \n\t ")).toBe(DEFAULT_CHAT_TITLE);
    expect(cleanTitle("  Trip\nplanning\u0000 ")).toBe("Trip planning");
    const long = cleanTitle("é".repeat(500));
    expect([...long]).toHaveLength(MAX_TITLE_LENGTH);
    expect(long.endsWith("…")).toBe(true);
  });
});
