// Contract: login, whoami, profile, filters, account data.
import { startHomeserver, type Homeserver } from "../../support/homeserver";
import { MatrixTestUser, MatrixTestUserError } from "../../support/matrix-test-user";

describe("homeserver double: account endpoints", () => {
  let hs: Homeserver;
  let alice: MatrixTestUser;

  beforeEach(async () => {
    hs = await startHomeserver({ serverName: "example.test" });
    alice = new MatrixTestUser(hs.url, hs.addUser("alice", { password: "secret", displayName: "Alice" }));
  });
  afterEach(() => hs.close());

  it("logs in with m.login.password by localpart or full user id, each login a new device", async () => {
    const byLocalpart = await MatrixTestUser.login(hs.url, "alice", "secret");
    const byUserId = await MatrixTestUser.login(hs.url, "@alice:example.test", "secret");
    expect(byLocalpart.userId).toBe("@alice:example.test");
    expect(byUserId.deviceId).not.toBe(byLocalpart.deviceId);
    expect(await byUserId.whoami()).toEqual({ user_id: "@alice:example.test", device_id: byUserId.deviceId, is_guest: false });
  });

  it("refuses a wrong password or unknown user with 403 M_FORBIDDEN", async () => {
    await expect(MatrixTestUser.login(hs.url, "alice", "wrong")).rejects.toMatchObject({ status: 403, errcode: "M_FORBIDDEN" });
    await expect(MatrixTestUser.login(hs.url, "nobody", "secret")).rejects.toBeInstanceOf(MatrixTestUserError);
  });

  it("logout revokes the token", async () => {
    const session = await MatrixTestUser.login(hs.url, "alice", "secret");
    await session.call("POST", "logout", { body: {} });
    expect((await session.request("GET", "account/whoami")).body).toMatchObject({ errcode: "M_UNKNOWN_TOKEN" });
  });

  it("serves and updates profiles; an unknown user's profile is 404 M_NOT_FOUND", async () => {
    expect(await alice.call("GET", `profile/${encodeURIComponent(alice.userId)}`)).toEqual({ displayname: "Alice" });
    await alice.setDisplayName("Alice Liddell");
    expect(await alice.call("GET", `profile/${encodeURIComponent(alice.userId)}/displayname`)).toEqual({ displayname: "Alice Liddell" });
    const unknown = await alice.request("GET", "profile/%40ghost%3Aexample.test");
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ errcode: "M_NOT_FOUND" });
    const bob = hs.addUser("bob");
    const foreign = await alice.request("PUT", `profile/${encodeURIComponent(bob.userId)}/displayname`, { body: { displayname: "x" } });
    expect(foreign.status).toBe(403);
    expect(foreign.body).toMatchObject({ errcode: "M_FORBIDDEN" });
  });

  it("a display name change shows as a new member event in joined rooms", async () => {
    const roomId = hs.createRoom(alice.userId);
    await alice.setDisplayName("Renamed");
    const member = hs.getState(roomId, "m.room.member", alice.userId);
    expect(member?.content).toEqual({ membership: "join", displayname: "Renamed" });
    expect(member?.unsigned?.["prev_content"]).toEqual({ membership: "join", displayname: "Alice" });
  });

  it("stores filters per user and answers 404 for unknown ones and 403 for another user's", async () => {
    const filter = { room: { timeline: { limit: 3 } } };
    const { filter_id: filterId } = await alice.call<{ filter_id: string }>("POST", `user/${encodeURIComponent(alice.userId)}/filter`, { body: filter });
    expect(typeof filterId).toBe("string");
    expect(await alice.call("GET", `user/${encodeURIComponent(alice.userId)}/filter/${filterId}`)).toEqual(filter);
    expect((await alice.request("GET", `user/${encodeURIComponent(alice.userId)}/filter/999`)).status).toBe(404);
    const bob = new MatrixTestUser(hs.url, hs.addUser("bob"));
    const foreign = await bob.request("POST", `user/${encodeURIComponent(alice.userId)}/filter`, { body: filter });
    expect(foreign.status).toBe(403);
  });

  it("stores account data (m.direct): 404 M_NOT_FOUND before, content after, and it appears in /sync", async () => {
    const path = `user/${encodeURIComponent(alice.userId)}/account_data/m.direct`;
    const before = await alice.request("GET", path);
    expect(before.status).toBe(404);
    expect(before.body).toMatchObject({ errcode: "M_NOT_FOUND" });
    const initial = await alice.sync();
    await alice.setAccountData("m.direct", { "@bob:example.test": ["!r:example.test"] });
    expect(await alice.call("GET", path)).toEqual({ "@bob:example.test": ["!r:example.test"] });
    expect(hs.accountData(alice.userId, "m.direct")).toEqual({ "@bob:example.test": ["!r:example.test"] });
    const next = await alice.sync({ since: initial.next_batch, timeout: 0 });
    expect(next["account_data"]).toEqual({ events: [{ type: "m.direct", content: { "@bob:example.test": ["!r:example.test"] } }] });
  });
});
