// Contract: createRoom's event sequence, membership endpoints, state and member reads.
import { startHomeserver, type ClientEvent, type Homeserver } from "../../support/homeserver";
import { MatrixTestUser } from "../../support/matrix-test-user";

describe("homeserver double: rooms and membership", () => {
  let hs: Homeserver;
  let alice: MatrixTestUser;
  let bob: MatrixTestUser;

  beforeEach(async () => {
    hs = await startHomeserver();
    alice = new MatrixTestUser(hs.url, hs.addUser("alice", { displayName: "Alice" }));
    bob = new MatrixTestUser(hs.url, hs.addUser("bob", { displayName: "Bob" }));
  });
  afterEach(() => hs.close());

  it("createRoom writes create, creator join, power levels, join rules, name and is_direct invites", async () => {
    const { room_id: roomId } = await alice.createRoom({ name: "Chat", is_direct: true, invite: [bob.userId], preset: "trusted_private_chat" });
    expect(roomId).toMatch(/^![A-Za-z]+:localhost$/);
    const types = hs.timeline(roomId).map((e) => `${e.type}|${e.state_key ?? ""}`);
    expect(types[0]).toBe("m.room.create|");
    expect(types[1]).toBe(`m.room.member|${alice.userId}`);
    expect(types[2]).toBe("m.room.power_levels|");
    expect(types).toEqual(expect.arrayContaining(["m.room.join_rules|", "m.room.name|", `m.room.member|${bob.userId}`]));
    const create = hs.getState(roomId, "m.room.create");
    expect(create).toMatchObject({ sender: alice.userId, content: { room_version: "10", creator: alice.userId } });
    expect(create?.event_id).toMatch(/^\$[A-Za-z0-9_-]{43}$/);
    const levels = hs.getState(roomId, "m.room.power_levels")?.content;
    expect(levels).toMatchObject({ users: { [alice.userId]: 100, [bob.userId]: 100 }, users_default: 0, state_default: 50, events_default: 0 });
    expect(hs.getState(roomId, "m.room.join_rules")?.content).toEqual({ join_rule: "invite" });
    expect(hs.getState(roomId, "m.room.member", bob.userId)?.content).toMatchObject({ membership: "invite", is_direct: true });
  });

  it("creates spaces from creation_content and applies initial_state and power_level_content_override", async () => {
    const { room_id: roomId } = await alice.createRoom({
      creation_content: { type: "m.space" },
      initial_state: [{ type: "m.room.topic", content: { topic: "t" } }],
      power_level_content_override: { events_default: 50 },
      preset: "public_chat",
    });
    expect(hs.getState(roomId, "m.room.create")?.content["type"]).toBe("m.space");
    expect(hs.getState(roomId, "m.room.topic")?.content).toEqual({ topic: "t" });
    expect(hs.getState(roomId, "m.room.power_levels")?.content["events_default"]).toBe(50);
    expect(hs.getState(roomId, "m.room.join_rules")?.content).toEqual({ join_rule: "public" });
    expect((await alice.request("POST", "createRoom", { body: { room_version: "99" } })).body).toMatchObject({ errcode: "M_UNSUPPORTED_ROOM_VERSION" });
  });

  it("join needs an invite (403 M_FORBIDDEN) and records via/server_name; unknown rooms are 404", async () => {
    const roomId = hs.createRoom(alice.userId);
    const uninvited = await bob.request("POST", `join/${encodeURIComponent(roomId)}`, { body: {} });
    expect(uninvited.status).toBe(403);
    expect(uninvited.body).toMatchObject({ errcode: "M_FORBIDDEN" });
    await alice.invite(roomId, bob.userId);
    await bob.request("POST", `join/${encodeURIComponent(roomId)}`, { body: {}, query: { via: ["localhost", "other.org"], server_name: "localhost" } });
    expect(hs.membership(roomId, bob.userId)).toBe("join");
    const joinRequest = hs.requests.find((r) => r.path.startsWith("/_matrix/client/v3/join/") && r.userId === bob.userId && r.status === 200);
    expect(joinRequest?.query).toEqual({ via: ["localhost", "other.org"], server_name: ["localhost"] });
    expect(hs.getState(roomId, "m.room.member", bob.userId)?.content).toEqual({ membership: "join", displayname: "Bob" });
    expect((await bob.request("POST", "join/!nope:localhost", { body: {} })).status).toBe(404);
  });

  it("joins public rooms by alias, leaves, kicks with power, and refuses a kick without it", async () => {
    const { room_id: roomId } = await alice.createRoom({ preset: "public_chat", room_alias_name: "lobby" });
    expect(await bob.join("#lobby:localhost")).toEqual({ room_id: roomId });
    expect(await bob.joinedRooms()).toEqual([roomId]);
    const carol = new MatrixTestUser(hs.url, hs.addUser("carol"));
    await carol.join(roomId);
    const denied = await bob.request("POST", `rooms/${encodeURIComponent(roomId)}/kick`, { body: { user_id: carol.userId } });
    expect(denied.status).toBe(403);
    await alice.kick(roomId, carol.userId, "bye");
    expect(hs.getState(roomId, "m.room.member", carol.userId)).toMatchObject({ sender: alice.userId, content: { membership: "leave", reason: "bye" } });
    await bob.leave(roomId);
    expect(hs.membership(roomId, bob.userId)).toBe("leave");
    expect(await bob.joinedRooms()).toEqual([]);
  });

  it("serves state, a state event's content (404 M_NOT_FOUND when absent), members and joined_members", async () => {
    const roomId = hs.createRoom(alice.userId, { name: "Named", invite: [bob.userId] });
    const enc = encodeURIComponent(roomId);
    const state = await alice.call<ClientEvent[]>("GET", `rooms/${enc}/state`);
    expect(state.map((e) => e.type)).toEqual(expect.arrayContaining(["m.room.create", "m.room.power_levels", "m.room.name"]));
    expect(state.every((e) => e.room_id === roomId && e.event_id.startsWith("$"))).toBe(true);
    expect(await alice.getState(roomId, "m.room.name")).toEqual({ name: "Named" });
    const missing = await alice.request("GET", `rooms/${enc}/state/m.room.topic/`);
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ errcode: "M_NOT_FOUND" });
    const members = await alice.call<{ chunk: ClientEvent[] }>("GET", `rooms/${enc}/members`);
    expect(members.chunk.map((e) => [e.state_key, e.content["membership"]])).toEqual([
      [alice.userId, "join"],
      [bob.userId, "invite"],
    ]);
    expect(await alice.call("GET", `rooms/${enc}/joined_members`)).toEqual({ joined: { [alice.userId]: { display_name: "Alice", avatar_url: null } } });
    expect((await bob.request("GET", `rooms/${enc}/joined_members`)).status).toBe(403);
  });

  it("puts state with power checks: the creator may, a default member may not", async () => {
    const roomId = hs.createRoom(alice.userId, { preset: "public_chat" });
    hs.join(bob.userId, roomId);
    expect(await alice.sendState(roomId, "m.room.topic", "", { topic: "hello" })).toMatch(/^\$/);
    const denied = await bob.request("PUT", `rooms/${encodeURIComponent(roomId)}/state/m.room.topic/`, { body: { topic: "mine" } });
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ errcode: "M_FORBIDDEN" });
    expect(() => hs.setState(bob.userId, roomId, "m.room.name", "", { name: "x" })).toThrow(/permission/);
  });

  it("upgrades a room: predecessor in the new create event, copied name, moved alias, tombstone in the old room", async () => {
    const { room_id: oldRoom } = await alice.createRoom({ name: "Old", room_alias_name: "team", preset: "public_chat" });
    const denied = await alice.request("POST", "rooms/!nope:localhost/upgrade", { body: { new_version: "12" } });
    expect(denied.status).toBe(404);
    const { replacement_room: newRoom } = await alice.call<{ replacement_room: string }>("POST", `rooms/${encodeURIComponent(oldRoom)}/upgrade`, {
      body: { new_version: "12" },
    });
    expect(newRoom).toMatch(/^![A-Za-z0-9_-]{43}$/);
    expect(hs.getState(newRoom, "m.room.create")?.content["predecessor"]).toEqual({ room_id: oldRoom });
    expect(hs.getState(newRoom, "m.room.name")?.content).toEqual({ name: "Old" });
    expect(hs.getState(oldRoom, "m.room.tombstone")?.content).toEqual({ body: expect.any(String), replacement_room: newRoom });
    expect(await bob.join("#team:localhost")).toEqual({ room_id: newRoom });
  });
});
