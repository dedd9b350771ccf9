// Contract: room version 12 — hash room ids without a server part, creators outside power_levels.
import { startHomeserver, type Homeserver } from "../../support/homeserver";
import { MatrixTestUser } from "../../support/matrix-test-user";

describe("homeserver double: room version 12", () => {
  let hs: Homeserver;
  let alice: MatrixTestUser;
  let bob: MatrixTestUser;

  beforeEach(async () => {
    hs = await startHomeserver();
    alice = new MatrixTestUser(hs.url, hs.addUser("alice"));
    bob = new MatrixTestUser(hs.url, hs.addUser("bob"));
  });
  afterEach(() => hs.close());

  it("mints the room id from the create event: '!' + 43 url-safe base64 characters, no ':server'", async () => {
    const { room_id: roomId } = await alice.createRoom({ room_version: "12", name: "v12" });
    expect(roomId).toMatch(/^![A-Za-z0-9_-]{43}$/);
    const create = hs.getState(roomId, "m.room.create");
    expect(create?.event_id).toBe(`$${roomId.slice(1)}`);
    expect(create?.content).toEqual({ room_version: "12" });
    expect(await alice.joinedRooms()).toEqual([roomId]);
  });

  it("keeps creators (sender + additional_creators) out of power_levels.users and gives them the last word", async () => {
    const { room_id: roomId } = await alice.createRoom({
      room_version: "12",
      creation_content: { additional_creators: [bob.userId] },
      invite: [bob.userId],
    });
    expect(hs.getState(roomId, "m.room.create")?.content).toEqual({ room_version: "12", additional_creators: [bob.userId] });
    const levels = hs.getState(roomId, "m.room.power_levels")?.content ?? {};
    expect(levels["users"]).toEqual({});
    expect(levels).toMatchObject({ users_default: 0, state_default: 50 });
    await bob.join(roomId);
    // Bob is a creator: infinite power, so he may set state though power_levels does not list him.
    expect(await bob.sendState(roomId, "m.room.name", "", { name: "by bob" })).toMatch(/^\$/);
    // Nobody can kick a creator.
    expect((await alice.request("POST", `rooms/${encodeURIComponent(roomId)}/kick`, { body: { user_id: bob.userId } })).status).toBe(403);
  });

  it("refuses power levels that list a creator", async () => {
    const listed = await alice.request("POST", "createRoom", {
      body: { room_version: "12", power_level_content_override: { users: { [alice.userId]: 100 } } },
    });
    expect(listed.status).toBe(400);
    const { room_id: roomId } = await alice.createRoom({ room_version: "12" });
    const put = await alice.request("PUT", `rooms/${encodeURIComponent(roomId)}/state/m.room.power_levels/`, { body: { users: { [alice.userId]: 100 } } });
    expect(put.status).toBe(400);
  });

  it("makes trusted_private_chat invitees additional creators, and older versions keep `creator`", async () => {
    const roomId = hs.createRoom(alice.userId, { roomVersion: "12", preset: "trusted_private_chat", invite: [bob.userId], isDirect: true });
    expect(hs.getState(roomId, "m.room.create")?.content["additional_creators"]).toEqual([bob.userId]);
    expect(hs.getState(roomId, "m.room.member", bob.userId)?.content).toMatchObject({ membership: "invite", is_direct: true });
    const v11 = hs.createRoom(alice.userId, { roomVersion: "11" });
    expect(v11).toMatch(/^!\w+:localhost$/);
    expect(hs.getState(v11, "m.room.create")?.content).toEqual({ room_version: "11" });
  });
});
