// Who may change a room's settings, checked against the homeserver double's real power levels and create
// events (room version 12 creators outside power_levels.users), through the command handler.
import pino from "pino";
import { PermissionChecker } from "../../../src/commands/permissions";
import { MatrixRequestError } from "../../../src/matrix/errors";
import type { MatrixHttp } from "../../../src/matrix/http";
import { startHarness, type Harness } from "./support";

const REFUSAL = /^Sorry, changing this room's settings needs power level (\d+) here \(or being a room creator or a bot admin\)\.$/;

describe("command permissions", () => {
  let h: Harness;
  let alice: string;
  let bob: string;
  let carol: string;

  beforeEach(async () => {
    h = await startHarness({ botAdmins: ["@ops-*:localhost"] });
    alice = h.hs.addUser("alice").userId;
    bob = h.hs.addUser("bob").userId;
    carol = h.hs.addUser("carol").userId;
  });
  afterEach(() => h.close());

  const groupRoom = (opts: Parameters<Harness["hs"]["createRoom"]>[1] = {}): string => {
    const room = h.hs.createRoom(alice, { ...opts, invite: [h.botUserId, bob, carol, ...(opts.invite ?? [])] });
    for (const u of [h.botUserId, bob, carol]) h.hs.join(u, room);
    return room;
  };

  it("refuses a member below state_default, politely and in one line, and changes nothing", async () => {
    const room = groupRoom();
    expect(await h.say(room, bob, "/proactive on")).toBe(true);
    expect(h.lastReply()).toMatch(REFUSAL);
    expect(h.lastReply()).toContain("power level 50");
    expect(await h.settings.proactiveRooms()).toEqual([]);
    await h.say(room, bob, "!mode all");
    expect(h.lastReply()).toMatch(REFUSAL);
    expect((await h.settings.get(room)).replyMode).toBe("mention");
    // showing is for anyone
    await h.say(room, bob, "/proactive");
    expect(h.lastReply()).toMatch(/^Proactive messages are off/);
  });

  it("allows exactly state_default, whatever the room sets it to", async () => {
    const room = groupRoom();
    h.hs.setState(alice, room, "m.room.power_levels", "", {
      users: { [alice]: 100, [bob]: 30, [carol]: 29 }, users_default: 0, state_default: 30,
    });
    await h.say(room, bob, "/proactive on");
    expect(h.lastReply()).toBe("Proactive messages are now on in this room.");
    await h.say(room, carol, "/mode all");
    expect(h.lastReply()).toContain("power level 30");
    expect((await h.settings.get(room)).replyMode).toBe("mention");
  });

  it("users_default counts for members not listed", async () => {
    const room = groupRoom();
    h.hs.setState(alice, room, "m.room.power_levels", "", { users: { [alice]: 100 }, users_default: 50, state_default: 50 });
    await h.say(room, carol, "/mode all");
    expect(h.lastReply()).toBe("Reply mode set to all: I answer every message.");
  });

  it("allows a room version 12 creator (absent from power_levels.users) and an additional creator", async () => {
    const room = h.hs.createRoom(alice, {
      roomVersion: "12", creationContent: { additional_creators: [carol] }, invite: [h.botUserId, bob, carol],
    });
    for (const u of [h.botUserId, bob, carol]) h.hs.join(u, room);
    const levels = h.hs.getState(room, "m.room.power_levels")?.content;
    expect(levels?.["users"]).toEqual({});
    await h.say(room, alice, "/proactive on");
    expect(h.lastReply()).toBe("Proactive messages are now on in this room.");
    await h.say(room, carol, "!mode all");
    expect(h.lastReply()).toBe("Reply mode set to all: I answer every message.");
    await h.say(room, bob, "/proactive off");
    expect(h.lastReply()).toMatch(REFUSAL);
    expect(await h.settings.proactiveRooms()).toEqual([room]);
  });

  it("a pre-v12 creator gets no special rank once its power level is lowered", async () => {
    const room = groupRoom({ roomVersion: "11" });
    h.hs.setState(alice, room, "m.room.power_levels", "", { users: { [alice]: 10, [bob]: 100 }, state_default: 50 });
    await h.say(room, alice, "/proactive on");
    expect(h.lastReply()).toMatch(REFUSAL);
  });

  it("allows a BOT_ADMINS glob match with no power at all; admin commands need BOT_ADMINS", async () => {
    const ops = h.hs.addUser("ops-jane").userId;
    const room = groupRoom({ invite: [ops] });
    h.hs.join(ops, room);
    await h.say(room, ops, "/proactive on");
    expect(h.lastReply()).toBe("Proactive messages are now on in this room.");
    await h.say(room, ops, "/outbox retry");
    expect(h.lastReply()).toMatch(/^Re-queued 2/);
    await h.say(room, alice, "/outbox retry");
    expect(h.lastReply()).toBe("Sorry, only the bot's admins (BOT_ADMINS) can do that.");
  });

  it("anyone may change settings in a DM", async () => {
    const dm = h.hs.createRoom(alice, { isDirect: true, invite: [h.botUserId, bob] });
    h.hs.join(h.botUserId, dm);
    h.hs.join(bob, dm);
    await h.say(dm, bob, "/proactive on", { isDirect: true });
    expect(h.lastReply()).toBe("Proactive messages are now on in this room.");
  });

  it("says so when the power levels cannot be read", async () => {
    const room = h.hs.createRoom(alice, { invite: [bob] }); // the bot is not in it: reading state is forbidden
    h.hs.join(bob, room);
    await h.say(room, bob, "/proactive on");
    expect(h.lastReply()).toBe("Sorry, I couldn't check your power level in this room right now. Please try again in a minute.");
    expect(await h.settings.proactiveRooms()).toEqual([]);
  });
});

describe("PermissionChecker without an m.room.power_levels event", () => {
  const http = (createContent: Record<string, unknown>, sender: string): MatrixHttp => ({
    async request<T>(_method: string, path: string): Promise<T> {
      if (path.includes("m.room.power_levels")) throw new MatrixRequestError("not_found", 404, "M_NOT_FOUND", "no power levels", undefined);
      if (path.includes("m.room.create")) return { type: "m.room.create", sender, state_key: "", content: createContent } as T;
      throw new Error(`unexpected ${path}`);
    },
  });

  it("follows the spec defaults: the creator has 100, state needs 0 (so any member may change settings)", async () => {
    const checker = new PermissionChecker({ http: http({ room_version: "10", creator: "@a:x" }, "@a:x"), botAdmins: [], log: pino({ level: "silent" }) });
    expect(await checker.check("settings", { roomId: "!r:x", userId: "@a:x", isDirect: false })).toEqual({ allowed: true });
    expect(await checker.check("settings", { roomId: "!r:x", userId: "@b:x", isDirect: false })).toEqual({ allowed: true });
    expect((await checker.check("admin", { roomId: "!r:x", userId: "@a:x", isDirect: false })).allowed).toBe(false);
    expect(await checker.check("anyone", { roomId: "!r:x", userId: "@b:x", isDirect: false })).toEqual({ allowed: true });
  });
});
