// Contract: the Application Service API from the homeserver side — as_token auth, masquerading,
// transaction pushes (auth styles, retry with the same txnId, serial order), raw pushes.
import { startHomeserver, type Homeserver } from "../../support/homeserver";
import { MatrixTestUser } from "../../support/matrix-test-user";
import { FakeAppservice, registration } from "./fake-appservice";

describe("homeserver double: appservice", () => {
  let hs: Homeserver;
  let as: FakeAppservice;
  let alice: MatrixTestUser;

  beforeEach(async () => {
    hs = await startHomeserver({ txnRetryMs: 20 });
    as = await new FakeAppservice().start();
    alice = new MatrixTestUser(hs.url, hs.addUser("alice"));
  });
  afterEach(async () => {
    await hs.close();
    await as.stop();
  });

  it("authenticates the as_token as the sender and masquerades only inside the users namespace", async () => {
    const { senderUserId } = hs.addAppservice(registration(as.url));
    const asClient = new MatrixTestUser(hs.url, { userId: senderUserId, accessToken: "as-secret" });
    expect(await asClient.whoami()).toEqual({ user_id: "@agentbot:localhost", is_guest: false });
    // Synapse: only a user the appservice registered (M_FORBIDDEN before).
    const unregistered = await asClient.request("GET", "account/whoami", { query: { user_id: "@agent_7:localhost" } });
    expect(unregistered).toMatchObject({ status: 403, body: { errcode: "M_FORBIDDEN", error: expect.stringMatching(/has not registered this user/) } });
    await asClient.call("POST", "register", { body: { type: "m.login.application_service", username: "agent_7", inhibit_login: true } });
    const masked = await asClient.call("GET", "account/whoami", { query: { user_id: "@agent_7:localhost" } });
    expect(masked).toEqual({ user_id: "@agent_7:localhost", is_guest: false });
    const outside = await asClient.request("GET", "account/whoami", { query: { user_id: alice.userId } });
    expect(outside.status).toBe(403);
    expect(outside.body).toMatchObject({ errcode: "M_FORBIDDEN" });
    const register = await asClient.request("POST", "register", { body: { type: "m.login.application_service", username: "agentbot" } });
    expect(register.body).toMatchObject({ errcode: "M_USER_IN_USE" });
    const fresh = await asClient.request("POST", "register", {
      body: { type: "m.login.application_service", username: "agent_new" },
      query: { user_id: "@agent_new:localhost" },
    });
    expect(fresh).toMatchObject({ status: 200, body: { user_id: "@agent_new:localhost" } });
    const outsideNs = await asClient.request("POST", "register", { body: { type: "m.login.application_service", username: "someone" } });
    expect(outsideNs.body).toMatchObject({ errcode: "M_EXCLUSIVE" });
    const asUser = await alice.request("POST", "register", { body: { type: "m.login.application_service", username: "agent_x" } });
    expect(asUser.status).toBe(403);
  });

  it("keeps its exclusive users namespace from others: another appservice and the availability check get M_EXCLUSIVE", async () => {
    hs.addAppservice(registration(as.url));
    hs.addAppservice({ ...registration(as.url), id: "greedy", as_token: "greedy-secret", hs_token: "greedy-hs", sender_localpart: "greedy",
      namespaces: { users: [{ exclusive: false, regex: "@.*:localhost" }] } });
    const greedy = new MatrixTestUser(hs.url, { userId: "@greedy:localhost", accessToken: "greedy-secret" });
    const taken = await greedy.request("POST", "register", { body: { type: "m.login.application_service", username: "agent_support" } });
    expect(taken).toMatchObject({ status: 400, body: { errcode: "M_EXCLUSIVE", error: "This user ID is reserved by an application service." } });
    const own = await greedy.request("POST", "register", { body: { type: "m.login.application_service", username: "helper" } });
    expect(own.status).toBe(200); // outside the exclusive namespace: its own (non-exclusive) namespace is enough
    const available = await alice.request("GET", "register/available", { query: { username: "agent_support" } });
    expect(available).toMatchObject({ status: 400, body: { errcode: "M_EXCLUSIVE" } });
    expect(await alice.call("GET", "register/available", { query: { username: "bob" } })).toEqual({ available: true });
    expect(await alice.request("GET", "register/available", { query: { username: "alice" } })).toMatchObject({ body: { errcode: "M_USER_IN_USE" } });
  });

  it("pushes events that concern it with the hs_token in the header and the legacy query parameter", async () => {
    const { senderUserId } = hs.addAppservice(registration(as.url));
    const roomId = hs.createRoom(alice.userId, { isDirect: true, invite: [senderUserId] });
    const other = hs.createRoom(alice.userId);
    hs.sendEvent(alice.userId, other, "m.room.message", { body: "not for the appservice" });
    await hs.waitFor(() => hs.transactions.some((t) => t.events.some((e) => e.state_key === senderUserId)), { what: "the invite push" });
    const push = as.received[0];
    expect(push?.authorization).toBe("Bearer hs-secret");
    expect(push?.queryToken).toBe("hs-secret");
    const invite = as.received.flatMap((r) => r.events).find((e) => e.state_key === senderUserId);
    expect(invite).toMatchObject({ room_id: roomId, type: "m.room.member", content: { membership: "invite", is_direct: true } });
    expect(as.received.flatMap((r) => r.events).every((e) => e.room_id === roomId)).toBe(true);
    expect(hs.transactions[0]).toMatchObject({ appserviceId: "agent-bridge", txnId: push?.txnId, status: 200 });
  });

  it("can authenticate with the header only or the query only", async () => {
    hs.addAppservice(registration(as.url), { legacyAuth: "header" });
    const header = await hs.pushTransaction("agent-bridge", [], { txnId: "h1" });
    const query = await hs.pushTransaction("agent-bridge", [], { txnId: "q1", auth: "query" });
    expect(header.status).toBe(200);
    expect(query.status).toBe(200);
    expect(as.received.map((r) => [r.txnId, r.authorization, r.queryToken])).toEqual([
      ["h1", "Bearer hs-secret", null],
      ["q1", undefined, "hs-secret"],
    ]);
  });

  it("retries a failed transaction with the same txnId and events; later events go in the next one", async () => {
    const { senderUserId } = hs.addAppservice(registration(as.url));
    const roomId = hs.createRoom(alice.userId, { preset: "public_chat" });
    hs.join(senderUserId, roomId);
    await hs.waitFor(() => hs.appserviceIdle("agent-bridge") && as.received.length > 0, { what: "the join push" });
    as.received.length = 0;
    const before = hs.transactions.length;
    as.statuses.push(500, 503);
    hs.sendEvent(alice.userId, roomId, "m.room.message", { body: "first" });
    await hs.waitFor(() => as.received.length >= 1, { what: "the first attempt" });
    hs.sendEvent(alice.userId, roomId, "m.room.message", { body: "second" });
    await hs.waitFor(() => hs.transactions.length >= before + 4, { what: "the retries and the next transaction" });
    const [a, b, c, d] = as.received;
    expect([a?.txnId, b?.txnId]).toEqual([c?.txnId, c?.txnId]);
    expect(a?.events).toEqual(c?.events);
    expect(a?.events.map((e) => e.content["body"])).toEqual(["first"]);
    expect(d?.txnId).not.toBe(c?.txnId);
    expect(d?.events.map((e) => e.content["body"])).toEqual(["second"]);
    expect(hs.transactions.slice(before).map((t) => t.status)).toEqual([500, 503, 200, 200]);
  });

  it("keeps one transaction in flight at a time and delivers in order", async () => {
    const { senderUserId } = hs.addAppservice(registration(as.url));
    const roomId = hs.createRoom(alice.userId, { preset: "public_chat" });
    hs.join(senderUserId, roomId);
    as.holdMs = 30;
    hs.sendEvent(alice.userId, roomId, "m.room.message", { body: "n0" });
    // The rest arrive once the first transaction was pushed (and is held by the appservice for a while).
    await hs.waitFor(() => as.received.length === 1, { what: "the first transaction pushed" });
    for (let i = 1; i < 6; i += 1) hs.sendEvent(alice.userId, roomId, "m.room.message", { body: `n${i}` });
    await hs.waitFor(() => as.bodies().length === 6 && hs.appserviceIdle("agent-bridge"), { what: "all six messages" });
    expect(as.bodies()).toEqual(["n0", "n1", "n2", "n3", "n4", "n5"]);
    expect(as.maxConcurrent).toBe(1);
    expect(as.received.length).toBeGreaterThan(1);
    expect(new Set(as.received.map((r) => r.txnId)).size).toBe(as.received.length);
  });

  it("retries after a network error, and pushTransaction sends raw, duplicate or wrong-token pushes on demand", async () => {
    await as.stop();
    const down = await startHomeserver({ txnRetryMs: 20 });
    try {
      down.addAppservice(registration("http://127.0.0.1:9"));
      const bob = down.addUser("bob");
      const roomId = down.createRoom(bob.userId, { invite: ["@agent_1:localhost"] });
      await down.waitFor(() => down.transactions.length >= 2, { what: "two failed attempts" });
      expect(down.transactions[0]?.status).toBe(0);
      expect(down.transactions[1]?.txnId).toBe(down.transactions[0]?.txnId);
      expect(down.transactions[0]?.events.some((e) => e.room_id === roomId)).toBe(true);
    } finally {
      await down.close();
    }
    as = await new FakeAppservice().start();
    hs.addAppservice(registration(as.url));
    const event = { event_id: "$x", type: "m.room.message", sender: alice.userId, room_id: "!r:localhost", origin_server_ts: 1, content: { body: "dup" } };
    expect(await hs.pushTransaction("agent-bridge", [event], { txnId: "same" })).toEqual({ status: 200, body: {} });
    await hs.pushTransaction("agent-bridge", [event], { txnId: "same", hsToken: "wrong" });
    expect(as.received.map((r) => [r.txnId, r.authorization])).toEqual([
      ["same", "Bearer hs-secret"],
      ["same", "Bearer wrong"],
    ]);
  });
});
