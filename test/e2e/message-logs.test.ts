// Logs that answer "is it working?": one info line per handled message (room, thread key, outcome, ms), never its
// text or anyone's display name at info; one debug line per message the agent does not get, with the reason.
import type { LogLine } from "../support/log-capture";
import { Scenario } from "../support/scenario";

const INFO = 30;

describe("message log lines", () => {
  let s: Scenario | undefined;
  afterEach(async () => {
    await s?.stop();
    s = undefined;
  });

  const handled = (eventId: string) => (l: LogLine): boolean => l.msg === "message handled" && l["eventId"] === eventId;
  const notAnswered = (eventId: string) => (l: LogLine): boolean => l.msg === "message not answered" && l["eventId"] === eventId;

  it("one info line per answered message, with room, thread key, outcome and ms, and nothing people wrote", async () => {
    s = await Scenario.start({ mode: "client" });
    const dm = await s.openDm();
    const first = await s.alice.sendText(dm, "my secret plans for tuesday");
    await s.waitBotMessages(dm, 1);
    const line = await s.bot.logs.waitFor(handled(first), "the handled line");
    expect(line).toMatchObject({ level: INFO, roomId: dm, outcome: "ok", threadKey: expect.any(String) });
    expect(line["ms"]).toEqual(expect.any(Number));
    const place = await s.alice.send(dm, "m.room.message", { msgtype: "m.location", body: "holiday.jpg", geo_uri: "geo:51.5,-0.1" });
    expect(await s.bot.logs.waitFor(handled(place), "the non-text line")).toMatchObject({ level: INFO, outcome: "non_text" });
    expect(s.bot.logs.lines().filter(handled(first))).toHaveLength(1);
    const infoText = s.bot.logs.raw.filter((r) => (JSON.parse(r) as LogLine).level >= INFO).join("\n");
    for (const privateText of ["secret plans", "holiday.jpg", "Alice", "Agent Bot"]) expect(infoText).not.toContain(privateText);
  });

  it("one debug line with the reason for each message the agent does not get", async () => {
    s = await Scenario.start({ mode: "client", env: { ALLOWED_USERS: "@alice:localhost" } });
    const bob = s.person("bob", "Bob");
    const group = await s.openGroup(s.alice, [bob]);
    const chatter = await s.alice.sendText(group, "lunch anyone?");
    const stranger = await bob.sendText(group, "Agent Bot: hello");
    const command = await s.alice.sendText(group, "!help");
    const notice = await s.alice.send(group, "m.room.message", { msgtype: "m.notice", body: "a bot's notice" });
    for (const [eventId, reason] of [[chatter, "not addressed"], [stranger, "not allowed (ALLOWED_USERS)"], [command, "command"],
      [notice, "notice"]] as const) {
      expect(await s.bot.logs.waitFor(notAnswered(eventId), `the line about ${reason}`)).toMatchObject({ level: 20, roomId: group, reason });
    }
    for (const eventId of [chatter, stranger, command, notice]) expect(s.bot.logs.find(handled(eventId))).toBeUndefined();
    const lines = s.bot.logs.raw.filter((r) => r.includes("message not answered")).join("\n");
    for (const privateText of ["lunch", "hello", "Bob", "Alice"]) expect(lines).not.toContain(privateText);
  });
});
