// The three command forms, exact tokens and case-insensitive names.
import { parseCommand } from "../../../src/commands/parser";
import { textEvent } from "./support";

const BOT = "@agentbot:localhost";
const facts = { botUserId: BOT, botDisplayName: "Agent Bot" };
const parse = (body: string, opts: Parameters<typeof textEvent>[3] = {}) =>
  parseCommand(textEvent("!r:localhost", "@alice:localhost", body, opts), facts);

describe("command parser", () => {
  it.each([
    ["/proactive on", "/", "proactive", ["on"]],
    ["!proactive on", "!", "proactive", ["on"]],
    ["  /help  ", "/", "help", []],
    ["!mode   all", "!", "mode", ["all"]],
    ["/outbox retry all", "/", "outbox", ["retry", "all"]],
  ])("prefixed form %j", (body, prefix, name, args) => {
    expect(parse(body)).toEqual({ name, args, raw: body.trim(), addressed: false, prefix });
  });

  it.each([
    ["@agentbot:localhost status", "status", []],
    ["@agentbot:localhost: mode all", "mode", ["all"]],
    ["Agent Bot: proactive off", "proactive", ["off"]],
    ["agent bot, help", "help", []],
    ["agentbot stop", "stop", []],
    ["AgentBot:reset", "reset", []],
    ["@agentbot:localhost !help", "help", []],
    ["Agent Bot: /mode", "mode", []],
  ])("addressed form %j", (body, name, args) => {
    const parsed = parse(body);
    expect(parsed).toMatchObject({ name, args, addressed: true });
  });

  it("a pill then the name, whatever the pill's text (Element writes the room display name)", () => {
    const html = '<a href="https://matrix.to/#/@agentbot:localhost">Helper</a>: proactive <b>on</b>';
    expect(parse("Helper: proactive on", { formattedBody: html })).toEqual({
      name: "proactive", args: ["on"], raw: "proactive on", addressed: true, prefix: null,
    });
    const encoded = "<a href='https://matrix.to/#/%40agentbot%3Alocalhost'>bot</a> status";
    expect(parse("bot status", { formattedBody: encoded })).toMatchObject({ name: "status", addressed: true });
    // a pill of somebody else is no address
    const other = '<a href="https://matrix.to/#/@alice:localhost">Alice</a>: help';
    expect(parse("Alice: help", { formattedBody: other })).toBeUndefined();
  });

  it("names are exact tokens: /proactiveXYZ is not /proactive, /etc/hosts is not a command", () => {
    expect(parse("/proactiveXYZ on")).toMatchObject({ name: "proactivexyz" });
    expect(parse("/proactive")).toMatchObject({ name: "proactive", args: [] });
    expect(parse("/proactive\ton")).toMatchObject({ name: "proactive", args: ["on"] });
    expect(parse("/etc/hosts is broken")).toBeUndefined();
    expect(parse("/proactive.on")).toBeUndefined();
    expect(parse("! help")).toBeUndefined();
    expect(parse("/")).toBeUndefined();
    expect(parse("agentbotty help")).toBeUndefined();
  });

  it("names are case-insensitive; arguments are kept as typed", () => {
    expect(parse("/HELP")).toMatchObject({ name: "help" });
    expect(parse("!Proactive ON")).toMatchObject({ name: "proactive", args: ["ON"] });
    expect(parse("AGENT BOT: Mode All")).toMatchObject({ name: "mode", args: ["All"] });
  });

  it("plain messages, sentences after the bot's name with no word token, edits and notices are not commands", () => {
    expect(parse("hello there")).toBeUndefined();
    expect(parse("help")).toBeUndefined(); // a bare word without prefix or address
    expect(parse("Agent Bot, what's up?")).toBeUndefined();
    expect(parse("Agent Bot")).toBeUndefined();
    const edit = textEvent("!r:localhost", "@alice:localhost", "* /help");
    edit.content["m.relates_to"] = { rel_type: "m.replace", event_id: "$x" };
    expect(parseCommand(edit, facts)).toBeUndefined();
    const notice = textEvent("!r:localhost", "@alice:localhost", "/help");
    notice.content["msgtype"] = "m.notice";
    expect(parseCommand(notice, facts)).toBeUndefined();
    expect(parseCommand(textEvent("!r:localhost", BOT, "/help"), facts)).toBeUndefined();
  });

  it("a prefixed command that mentions the bot (m.mentions) counts as addressed; a reply fallback is skipped", () => {
    expect(parse("!frobnicate", { mentions: [BOT] })).toMatchObject({ name: "frobnicate", addressed: true });
    const reply = textEvent("!r:localhost", "@alice:localhost", "> <@bob:localhost> earlier\n\n/status");
    reply.content["m.relates_to"] = { "m.in_reply_to": { event_id: "$earlier" } };
    expect(parseCommand(reply, facts)).toMatchObject({ name: "status", prefix: "/" });
  });
});
