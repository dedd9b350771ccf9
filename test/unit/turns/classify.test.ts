// Which messages the bot answers, and what text it passes on.
import { classifyMessage, stripReplyFallback, type RoomFacts } from "../../../src/turns/classify";
import type { RoomEvent } from "../../../src/matrix/events";

const BOT = "@agent:example.org";
const group: RoomFacts = { botUserId: BOT, botDisplayName: "Helper", isDirect: false };
const dm: RoomFacts = { ...group, isDirect: true };

function msg(content: Record<string, unknown>, extra: Partial<RoomEvent> = {}): RoomEvent {
  return { event_id: "$e", room_id: "!r:example.org", sender: "@alice:example.org", type: "m.room.message", content, ...extra };
}

describe("classifyMessage", () => {
  it("answers every text message in a DM", () => {
    expect(classifyMessage(msg({ msgtype: "m.text", body: "hello" }), dm)).toMatchObject({ kind: "text", text: "hello", addressed: true });
  });

  it("ignores its own messages, notices, edits and redacted events", () => {
    expect(classifyMessage(msg({ msgtype: "m.text", body: "x" }, { sender: BOT }), dm).kind).toBe("ignore");
    expect(classifyMessage(msg({ msgtype: "m.notice", body: "x" }), dm).kind).toBe("ignore");
    expect(classifyMessage(msg({ msgtype: "m.text", body: "* x", "m.relates_to": { rel_type: "m.replace", event_id: "$o" } }), dm).kind).toBe("ignore");
    expect(classifyMessage(msg({}, { unsigned: { redacted_because: {} } }), dm).kind).toBe("ignore");
  });

  it("in a group room answers only when addressed", () => {
    expect(classifyMessage(msg({ msgtype: "m.text", body: "chatting" }), group)).toMatchObject({ addressed: false });
    expect(classifyMessage(msg({ msgtype: "m.text", body: "hi", "m.mentions": { user_ids: [BOT] } }), group)).toMatchObject({ addressed: true });
    expect(classifyMessage(msg({ msgtype: "m.text", body: "Helper: hi" }), group)).toMatchObject({ addressed: true });
    expect(classifyMessage(msg({ msgtype: "m.text", body: "agent, hi" }), group)).toMatchObject({ addressed: true });
    expect(classifyMessage(msg({ msgtype: "m.text", body: "Helpers unite" }), group)).toMatchObject({ addressed: false });
    expect(classifyMessage(msg({ msgtype: "m.text", body: "ask the Helper" }), group)).toMatchObject({ addressed: false });
    const pill = { msgtype: "m.text", body: "Helper hi", format: "org.matrix.custom.html", formatted_body: `<a href="https://matrix.to/#/${BOT}">Helper</a> hi` };
    expect(classifyMessage(msg(pill), group)).toMatchObject({ addressed: true });
    expect(classifyMessage(msg({ msgtype: "m.text", body: "sure" }), { ...group, repliedToSender: BOT })).toMatchObject({ addressed: true });
  });

  it("counts the bot's display name in the room as a mention, configured or not", () => {
    const named: RoomFacts = { botUserId: "@h9:example.org", isDirect: false, botRoomDisplayName: "Agent Bot" };
    expect(classifyMessage(msg({ msgtype: "m.text", body: "agent bot: hi" }), named)).toMatchObject({ addressed: true });
    expect(classifyMessage(msg({ msgtype: "m.text", body: "Agent Botany" }), named)).toMatchObject({ addressed: false });
    expect(classifyMessage(msg({ msgtype: "m.text", body: "Helper: hi" }), { ...named, botDisplayName: "Helper" })).toMatchObject({ addressed: true });
  });

  it("strips the reply fallback from a reply and keeps the thread root", () => {
    const reply = msg({ msgtype: "m.text", body: "> <@bob:x> earlier\n> more\n\nmy answer", "m.relates_to": { "m.in_reply_to": { event_id: "$q" } } });
    expect(classifyMessage(reply, dm)).toMatchObject({ kind: "text", text: "my answer", replyToEventId: "$q" });
    const inThread = msg({ msgtype: "m.text", body: "in thread", "m.relates_to": { rel_type: "m.thread", event_id: "$root" } });
    expect(classifyMessage(inThread, dm)).toMatchObject({ kind: "text", threadRootId: "$root" });
  });

  it("marks images, files, voice and video as media, the caption (MSC2530) addressing the bot in a group", () => {
    expect(classifyMessage(msg({ msgtype: "m.image", body: "cat.png", url: "mxc://x/y" }), dm)).toEqual({ kind: "media", addressed: true });
    for (const msgtype of ["m.file", "m.audio", "m.video"]) expect(classifyMessage(msg({ msgtype, body: "f", url: "mxc://x/y" }), dm)).toMatchObject({ kind: "media" });
    const group = { ...dm, isDirect: false };
    const captioned = msg({ msgtype: "m.image", body: "Helper: what is this?", filename: "cat.png", url: "mxc://x/y" });
    expect(classifyMessage(captioned, group)).toEqual({ kind: "media", addressed: true, caption: "Helper: what is this?" });
    expect(classifyMessage(msg({ msgtype: "m.image", body: "cat.png", filename: "cat.png", url: "mxc://x/y" }), group)).toEqual({ kind: "media", addressed: false });
  });

  it("marks other message types (locations) as non-text", () => {
    expect(classifyMessage(msg({ msgtype: "m.location", body: "here", geo_uri: "geo:1,2" }), dm)).toMatchObject({ kind: "non_text", addressed: true });
  });
});

describe("stripReplyFallback", () => {
  it("leaves a message that merely starts with a quote alone when it is not a reply fallback", () => {
    expect(stripReplyFallback("no quote here")).toBe("no quote here");
    expect(stripReplyFallback("> quoted\n\nreply")).toBe("reply");
  });
});
