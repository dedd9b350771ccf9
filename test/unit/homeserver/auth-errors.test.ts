// Contract: authentication and the spec's error shapes, over real HTTP.
import { startHomeserver, type Homeserver } from "../../support/homeserver";
import { MatrixTestUser } from "../../support/matrix-test-user";

describe("homeserver double: auth and errors", () => {
  let hs: Homeserver;
  let alice: MatrixTestUser;
  let roomId: string;

  beforeEach(async () => {
    hs = await startHomeserver();
    const account = hs.addUser("alice", { password: "pw" });
    alice = new MatrixTestUser(hs.url, account);
    roomId = hs.createRoom(account.userId, { name: "R" });
  });
  afterEach(() => hs.close());

  it("serves /versions without a token", async () => {
    const response = await fetch(`${hs.url}/_matrix/client/versions`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { versions: string[]; unstable_features: object };
    expect(body.versions).toContain("v1.11");
    expect(body.unstable_features).toEqual({});
  });

  it("answers 401 M_MISSING_TOKEN without a token and 401 M_UNKNOWN_TOKEN (soft_logout false) for a bad one", async () => {
    const missing = await alice.request("GET", "account/whoami", { auth: false });
    expect(missing.status).toBe(401);
    expect(missing.body).toMatchObject({ errcode: "M_MISSING_TOKEN" });

    const stranger = new MatrixTestUser(hs.url, { userId: "@x:localhost", accessToken: "nope" });
    const unknown = await stranger.request("GET", "account/whoami");
    expect(unknown.status).toBe(401);
    expect(unknown.body).toEqual({ errcode: "M_UNKNOWN_TOKEN", error: expect.any(String), soft_logout: false });
  });

  it("accepts the legacy access_token query parameter and the r0 prefix", async () => {
    const viaQuery = await fetch(`${hs.url}/_matrix/client/r0/account/whoami?access_token=${alice.accessToken}`);
    expect(viaQuery.status).toBe(200);
    expect(await viaQuery.json()).toMatchObject({ user_id: alice.userId, is_guest: false });
  });

  it("rejects a token after revokeToken with M_UNKNOWN_TOKEN", async () => {
    expect((await alice.whoami()).user_id).toBe(alice.userId);
    hs.revokeToken(alice.accessToken);
    const after = await alice.request("GET", "account/whoami");
    expect(after.status).toBe(401);
    expect(after.body).toMatchObject({ errcode: "M_UNKNOWN_TOKEN", soft_logout: false });
  });

  it("answers 404 M_UNRECOGNIZED for unknown endpoints and 405 for a known path with the wrong method", async () => {
    const unknown = await alice.request("GET", "no/such/endpoint");
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ errcode: "M_UNRECOGNIZED" });
    const wrongMethod = await alice.request("DELETE", "account/whoami");
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.body).toMatchObject({ errcode: "M_UNRECOGNIZED" });
  });

  it("answers 400 M_NOT_JSON for a body that is not JSON and M_BAD_JSON for a non-object", async () => {
    const url = `${hs.url}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t1`;
    const headers = { authorization: `Bearer ${alice.accessToken}`, "content-type": "application/json" };
    const notJson = await fetch(url, { method: "PUT", headers, body: "{not json" });
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ errcode: "M_NOT_JSON" });
    const array = await fetch(url, { method: "PUT", headers, body: "[1,2]" });
    expect(array.status).toBe(400);
    expect(await array.json()).toMatchObject({ errcode: "M_BAD_JSON" });
  });

  it("replays failNext replies: 429 M_LIMIT_EXCEEDED with retry_after_ms and Retry-After, then normal service", async () => {
    hs.failNext({ method: "PUT", pathIncludes: "/send/" }, { status: 429, errcode: "M_LIMIT_EXCEEDED", retry_after_ms: 1500 }, 2);
    for (let i = 0; i < 2; i += 1) {
      const limited = await alice.request("PUT", `rooms/${encodeURIComponent(roomId)}/send/m.room.message/t${i}`, { body: { body: "x" } });
      expect(limited.status).toBe(429);
      expect(limited.body).toEqual({ errcode: "M_LIMIT_EXCEEDED", error: expect.any(String), retry_after_ms: 1500 });
      expect(limited.headers.get("retry-after")).toBe("2");
    }
    const passed = await alice.request("PUT", `rooms/${encodeURIComponent(roomId)}/send/m.room.message/t9`, { body: { body: "x" } });
    expect(passed.status).toBe(200);
    expect(hs.sent({ roomId, type: "m.room.message" })).toHaveLength(1);
  });

  it("scopes failNext to a user and can drop the connection or answer like a proxy without errcode", async () => {
    const bob = new MatrixTestUser(hs.url, hs.addUser("bob"));
    hs.failNext({ userId: bob.userId }, { status: 502, body: "<html>bad gateway</html>" });
    expect((await alice.request("GET", "account/whoami")).status).toBe(200);
    const proxied = await bob.request("GET", "account/whoami");
    expect(proxied.status).toBe(502);
    expect(proxied.body).toBe("<html>bad gateway</html>");

    hs.failNext({ pathIncludes: "whoami" }, { dropConnection: true });
    await expect(alice.request("GET", "account/whoami")).rejects.toThrow();
    expect((await alice.request("GET", "account/whoami")).status).toBe(200);
  });

  it("records every request with method, decoded path, repeated query values, user and status", async () => {
    await alice.request("GET", "account/whoami", { query: { via: ["a.org", "b.org"] } });
    const record = hs.requests.find((r) => r.path === "/_matrix/client/v3/account/whoami");
    expect(record).toMatchObject({ method: "GET", userId: alice.userId, status: 200, query: { via: ["a.org", "b.org"] } });
    expect(typeof record?.at).toBe("number");
  });
});
