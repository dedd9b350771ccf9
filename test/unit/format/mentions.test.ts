import { ROOM_MENTION_GUARD, buildMessageContents, mentionsFor, neutralizeRoomMentions } from "../../../src/matrix/format";

// How the legacy `.m.rule.roomnotif` rule matches `content.body`: "@room" as a whole word, any case.
const LEGACY_ROOM_RULE = /(?:^|[^\p{L}\p{N}_])@room(?:[^\p{L}\p{N}_]|$)/iu;

describe("mentionsFor", () => {
  it("mentions exactly the given users and never the room", () => {
    const mentions = mentionsFor({ userIds: ["@alice:example.org"] });
    expect(mentions).toEqual({ user_ids: ["@alice:example.org"] });
    expect(mentions).not.toHaveProperty("room");
  });

  it("mentions nobody by default", () => {
    expect(mentionsFor()).toEqual({ user_ids: [] });
    expect(mentionsFor({})).toEqual({ user_ids: [] });
  });

  it("deduplicates, keeps order, and drops what is not a user id", () => {
    const ids = ["@b:example.org", "@a:example.org", "@b:example.org", "@room", "alice", "@x y:example.org", `@${"a".repeat(300)}:x.org`, "@c:[::1]:8448"];
    expect(mentionsFor({ userIds: ids })).toEqual({ user_ids: ["@b:example.org", "@a:example.org", "@c:[::1]:8448"] });
  });
});

describe("neutralizeRoomMentions", () => {
  it("breaks every @room, in any case, with an invisible word joiner", () => {
    const body = neutralizeRoomMentions("@room hi @ROOM, (@Room)");
    expect(body).toBe(`@${ROOM_MENTION_GUARD}room hi @${ROOM_MENTION_GUARD}ROOM, (@${ROOM_MENTION_GUARD}Room)`);
    expect(LEGACY_ROOM_RULE.test(body)).toBe(false);
  });

  it("leaves user ids and words that merely start with @room alone", () => {
    expect(neutralizeRoomMentions("@roomba:example.org @rooms @room_1")).toBe("@roomba:example.org @rooms @room_1");
  });
});

describe("agent text mentioning @room", () => {
  it("cannot trigger the legacy @room rule, while readers still see @room in rich clients", () => {
    const [content, ...rest] = buildMessageContents("Attention **@room**: the build is green. @room");
    expect(rest).toHaveLength(0);
    expect(LEGACY_ROOM_RULE.test(content?.body ?? "")).toBe(false);
    expect(content?.formatted_body).toBe("<p>Attention <strong>@room</strong>: the build is green. @room</p>");
  });

  it("neutralizes @room in a plain-text-only message too", () => {
    const [content] = buildMessageContents("hello @room");
    expect(content).toEqual({ msgtype: "m.text", body: `hello @${ROOM_MENTION_GUARD}room` });
  });
});
