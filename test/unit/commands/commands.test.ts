// Each command's reply, argument validation, the unknown-command rules and store outages, through
// CommandHandler.handle with a real store and the homeserver double.
import { CommandHandler } from "../../../src/commands";
import pino from "pino";
import { LivePolicy } from "../../../src/render/live-policy";
import { startHarness, textEvent, type Harness } from "./support";

describe("commands", () => {
  let h: Harness;
  let alice: string; // room creator, power level 100
  let bob: string; // power level 0
  let group: string;
  let dm: string;

  beforeEach(async () => {
    h = await startHarness({ botAdmins: ["@root:localhost"] });
    alice = h.hs.addUser("alice").userId;
    bob = h.hs.addUser("bob").userId;
    group = h.hs.createRoom(alice, { name: "group", invite: [h.botUserId, bob] });
    h.hs.join(h.botUserId, group);
    h.hs.join(bob, group);
    dm = h.hs.createRoom(bob, { isDirect: true, invite: [h.botUserId] });
    h.hs.join(h.botUserId, dm);
  });
  afterEach(() => h.close());

  it("all three forms run the same command, and the reply answers the command's event", async () => {
    for (const body of ["/proactive", "!proactive", "@agentbot:localhost proactive", "Agent Bot: proactive"]) {
      expect(await h.say(group, bob, body)).toBe(true);
      expect(h.lastReply()).toBe("Proactive messages are off in this room. Send /proactive on to receive them.");
    }
    const event = textEvent(group, bob, "Helper: proactive", {
      formattedBody: '<a href="https://matrix.to/#/@agentbot:localhost">Helper</a>: proactive',
    });
    expect(await h.handler.handle(event, { isDirect: false, threadKey: "tk" })).toBe(true);
    expect(h.replies.at(-1)).toEqual({ roomId: group, replyTo: event.event_id, text: expect.stringMatching(/^Proactive messages are off/) });
    expect(h.replies).toHaveLength(5);
  });

  it("/proactive on|off switches the room in and out of the opt-in index", async () => {
    await h.say(group, alice, "/proactive on");
    expect(h.lastReply()).toBe("Proactive messages are now on in this room.");
    expect(await h.settings.proactiveRooms()).toEqual([group]);
    await h.say(group, alice, "/proactive");
    expect(h.lastReply()).toMatch(/^Proactive messages are on in this room/);
    await h.say(group, alice, "!PROACTIVE Off");
    expect(h.lastReply()).toBe("Proactive messages are now off in this room.");
    expect(await h.settings.proactiveRooms()).toEqual([]);
  });

  it("a bad argument gets the usage line and changes nothing", async () => {
    await h.say(group, alice, "/proactive maybe");
    expect(h.lastReply()).toBe("Usage: /proactive [on|off]");
    await h.say(group, alice, "/mode on off");
    expect(h.lastReply()).toBe("Usage: /mode [mention|all]");
    await h.say(group, alice, "/stop now please");
    expect(h.lastReply()).toBe("Usage: /stop");
    await h.say(group, alice, "!outbox");
    expect(h.lastReply()).toBe("Usage: /outbox retry [all]");
    expect(await h.settings.proactiveRooms()).toEqual([]);
  });

  it("after a bare address, bad arguments or an unknown word mean a message for the agent, not a command", async () => {
    expect(await h.say(group, bob, "@agentbot:localhost help me write a poem")).toBe(false);
    expect(await h.say(group, bob, "Agent Bot: tell me a joke")).toBe(false);
    expect(await h.say(dm, bob, "agentbot stop talking like a pirate", { isDirect: true })).toBe(false);
    expect(await h.say(group, bob, "good morning everyone")).toBe(false);
    expect(h.replies).toEqual([]);
  });

  it("/help lists every command on one line each, with the forms and the group-room rule", async () => {
    await h.say(dm, bob, "/help", { isDirect: true });
    const text = h.lastReply() ?? "";
    for (const usage of ["/help", "/status", "/stop", "/reset", "/mode [mention|all]", "/stream [on|off]", "/toollines [on|off]", "/details [on|off]", "/proactive [on|off]", "/outbox retry [all]"]) {
      expect(text.split("\n").filter((line) => line.startsWith(`${usage} — `))).toHaveLength(1);
    }
    expect(text).toMatch(/!name/);
    expect(text).toMatch(/unknown command only when you mention me/);
  });

  it("/status shows the link, the store and this room's pending and dead-lettered deliveries", async () => {
    Object.assign(h.status, { link: "reconnecting", store: "unavailable", pending: 3, dead: 1 });
    await h.say(group, bob, "/status");
    expect(h.lastReply()).toBe([
      "Agent link: reconnecting.",
      "Storage: unavailable.",
      "This room: 3 messages waiting to be delivered, 1 message that could not be delivered.",
      "A bot admin can send /outbox retry to try those again.",
    ].join("\n"));
  });

  it("/status adds the whole bot's work in hand when it is known", async () => {
    Object.assign(h.status, { work: { router: 1, turns: 2, outbox: 1 } });
    await h.say(group, bob, "/status");
    expect(h.lastReply()?.split("\n").at(-1)).toBe(
      "Whole bot: 1 room event being handled (this command included), 2 agent turns running or queued, 1 message on the way out.");
  });

  it("/reset bumps the room's thread generation and confirms; it needs the settings permission", async () => {
    await h.say(group, bob, "/reset");
    expect(h.lastReply()).toMatch(/^Sorry, changing this room's settings needs power level 50 here/);
    expect((await h.settings.get(group)).threadGeneration).toBe(0);
    await h.say(group, alice, "/reset");
    expect(h.lastReply()).toMatch(/fresh conversation/);
    await h.say(group, alice, "!reset");
    expect((await h.settings.get(group)).threadGeneration).toBe(2);
    expect((await h.settings.get(dm)).threadGeneration).toBe(0);
  });

  it("/stop cancels this conversation's running turn and says whether one was running", async () => {
    h.running.add("v1.thread-a");
    await h.say(group, bob, "/stop", { threadKey: "v1.thread-a" });
    expect(h.lastReply()).toBe("Stopped the reply I was working on.");
    await h.say(group, bob, "/stop", { threadKey: "v1.thread-a" });
    expect(h.lastReply()).toBe("Nothing was running, so there was nothing to stop.");
    expect(h.cancelled).toEqual(["v1.thread-a", "v1.thread-a"]);
  });

  it("/mode shows and switches the reply mode", async () => {
    await h.say(group, bob, "/mode");
    expect(h.lastReply()).toBe("Reply mode here: mention: I answer when you mention me or reply to me.");
    await h.say(group, alice, "/mode all");
    expect(h.lastReply()).toBe("Reply mode set to all: I answer every message.");
    expect((await h.settings.get(group)).replyMode).toBe("all");
    await h.say(dm, bob, "!mode", { isDirect: true });
    expect(h.lastReply()).toMatch(/In a direct chat I answer every message/);
  });

  it("/stream shows and switches live answers (settings permission); the room's MSC4357 state wins", async () => {
    const policy = new LivePolicy({
      defaultMode: "edits", log: pino({ level: "silent" }),
      roomSetting: async (roomId) => (await h.settings.get(roomId)).streaming,
      readState: async (roomId, type) => {
        try {
          return await h.http.request<Record<string, unknown>>("GET", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/${type}/`);
        } catch {
          return undefined;
        }
      },
    });
    h.deps.streaming = { defaultMode: "edits", roomAllows: (roomId) => policy.roomAllows(roomId) };
    await h.say(group, bob, "/stream");
    expect(h.lastReply()).toBe("Live answers are on here (the bot's default): answers appear as they are written. Send /stream off to get them only when complete.");
    await h.say(group, bob, "/stream off");
    expect(h.lastReply()).toMatch(/^Sorry, changing this room's settings needs power level/);
    expect((await h.settings.get(group)).streaming).toBeUndefined();
    await h.say(group, alice, "/stream off");
    expect(h.lastReply()).toBe("Live answers are now off here: answers appear when complete.");
    expect(await policy.streams(group)).toBe(false);
    await h.say(group, alice, "!stream on");
    expect(await policy.streams(group)).toBe(true);
    // The room turns live messaging off (MSC4357): /stream on stays, but answers come complete.
    h.hs.setState(alice, group, "org.matrix.msc4357.live_messaging", "", { enabled: false });
    const fresh = new LivePolicy({ defaultMode: "edits", log: pino({ level: "silent" }), roomSetting: async () => "on",
      readState: async (roomId, type) => (h.hs.getState(roomId, type)?.content as Record<string, unknown> | undefined) });
    h.deps.streaming = { defaultMode: "edits", roomAllows: (roomId) => fresh.roomAllows(roomId) };
    expect(await fresh.streams(group)).toBe(false);
    await h.say(group, bob, "/stream");
    expect(h.lastReply()).toMatch(/^Live answers are on here: .* This room turned live messages off/);
  });

  it("/toollines and /details show and switch what the room sees of the agent's work (settings permission)", async () => {
    await h.say(group, bob, "/details");
    expect(h.lastReply()).toMatch(/^Details are off here \(the default\): only the tool lines are shown/);
    await h.say(group, bob, "/details on");
    expect(h.lastReply()).toMatch(/^Sorry, changing this room's settings needs power level/);
    expect((await h.settings.get(group)).details).toBeUndefined();
    await h.say(group, alice, "/details on");
    expect(h.lastReply()).toMatch(/^Details are now on here: tool arguments and results and the agent's thinking are shown, folded/);
    expect((await h.settings.get(group)).details).toBe("on");
    await h.say(group, bob, "!details");
    expect(h.lastReply()).toMatch(/^Details are on here: /);
    await h.say(group, bob, "/toollines");
    expect(h.lastReply()).toMatch(/^Tool lines are on here \(the default\): /);
    await h.say(group, bob, "/toollines off");
    expect(h.lastReply()).toMatch(/^Sorry, changing this room's settings needs power level/);
    await h.say(group, alice, "/toollines off");
    expect(h.lastReply()).toMatch(/^Tool lines are now off here/);
    expect(await h.settings.get(group)).toMatchObject({ toolLines: "off", details: "on" });
    await h.say(dm, bob, "/details on", { isDirect: true });
    expect((await h.settings.get(dm)).details).toBe("on");
  });

  it("/outbox retry re-queues this room's dead letters, /outbox retry all everyone's (admins only)", async () => {
    const root = h.hs.addUser("root").userId;
    h.hs.invite(alice, group, root);
    h.hs.join(root, group);
    await h.say(group, root, "/outbox retry");
    expect(h.lastReply()).toBe("Re-queued 2 undelivered messages for this room.");
    await h.say(group, root, "!outbox RETRY all");
    expect(h.lastReply()).toBe("Re-queued 5 undelivered messages across all rooms.");
    expect(h.retried).toEqual([group, undefined]);
    await h.say(group, alice, "/outbox retry"); // room creator, but not a bot admin
    expect(h.lastReply()).toBe("Sorry, only the bot's admins (BOT_ADMINS) can do that.");
    expect(h.retried).toHaveLength(2);
  });

  describe("unknown commands", () => {
    it("in a DM, any unknown /x or !x gets the one-line hint", async () => {
      expect(await h.say(dm, bob, "/frobnicate", { isDirect: true })).toBe(true);
      expect(h.lastReply()).toBe("Unknown command /frobnicate. Send /help for the list.");
      expect(await h.say(dm, bob, "!proactiveXYZ on", { isDirect: true })).toBe(true);
      expect(h.lastReply()).toBe("Unknown command !proactiveXYZ. Send /help for the list.");
    });

    it("in a group room, only when the bot was addressed; a bare !x is ignored and kept from the agent", async () => {
      expect(await h.say(group, bob, "!weather Paris")).toBe(true);
      expect(await h.say(group, bob, "/frobnicate")).toBe(true);
      expect(h.replies).toEqual([]);
      expect(await h.say(group, bob, "@agentbot:localhost !weather")).toBe(true);
      expect(h.lastReply()).toBe("Unknown command !weather. Send /help for the list.");
      expect(await h.say(group, bob, "!weather", { mentions: [h.botUserId] })).toBe(true);
      expect(h.replies).toHaveLength(2);
    });
  });

  describe("store outage", () => {
    it("a change during an outage gets a clear reply after the retries, and works once the store is back", async () => {
      h.faulty.failAll(true);
      expect(await h.say(group, alice, "/proactive on")).toBe(true);
      expect(h.lastReply()).toBe("I couldn't save that because my storage is unavailable right now. Please try again in a minute.");
      expect(h.faulty.failures.get).toBe(3); // 1 attempt + 2 retries
      expect(h.logs.find((l) => l.level === 50 && l.msg === "command failed")).toBeDefined();
      h.faulty.heal();
      await h.say(group, alice, "/proactive on");
      expect(h.lastReply()).toBe("Proactive messages are now on in this room.");
    });

    it("a failing command or a failing reply never throws out of handle()", async () => {
      const broken = new CommandHandler({
        ...h.deps,
        pipeline: { cancel: () => { throw new Error("boom with a secret sk-123"); } },
        status: () => Promise.reject(new Error("status exploded")),
        outbox: { retryDead: async () => 0 },
        reply: () => Promise.reject(new Error("homeserver gone")),
      });
      await expect(broken.handle(textEvent(group, bob, "/stop"), { isDirect: false, threadKey: "t" })).resolves.toBe(true);
      const replies: string[] = [];
      const replying = new CommandHandler({
        ...h.deps, pipeline: { cancel: () => { throw new Error("boom with a secret sk-123"); } },
        reply: async (_r, _e, text) => void replies.push(text),
      });
      await replying.handle(textEvent(group, bob, "/stop"), { isDirect: false, threadKey: "t" });
      expect(replies).toEqual(["Sorry, something went wrong running /stop. Please try again."]);
      expect(h.logs.find((l) => l.msg === "command reply could not be sent")).toBeDefined();
    });
  });
});
