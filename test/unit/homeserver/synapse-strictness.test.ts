// Contract: where Synapse 1.67 refuses or decides something, the double does the same (each rule names the Synapse
// code it follows): event size limits (event_auth._check_size_limits), a 429 that carries only Retry-After (what a
// v1.10+ homeserver may send), appservice interest (ApplicationService.is_interested_in_event), invite_room_state
// (handlers/message.py, appservice/api.py), and the send txnId memory (rest/client/transactions.py).
import { MatrixHttpError, startHomeserver, type ClientEvent, type Homeserver } from "../../support/homeserver";
import { MatrixTestUser } from "../../support/matrix-test-user";
import { FakeAppservice, registration } from "./fake-appservice";

describe("homeserver double: as strict as Synapse 1.67", () => {
  let hs: Homeserver;
  let alice: MatrixTestUser;
  let roomId: string;
  let clock = Date.now();
  const sendPath = (room: string, txnId: string): string => `rooms/${encodeURIComponent(room)}/send/m.room.message/${txnId}`;

  beforeEach(async () => {
    clock = Date.now();
    hs = await startHomeserver({ now: () => clock });
    alice = new MatrixTestUser(hs.url, hs.addUser("alice"));
    roomId = hs.createRoom(alice.userId, { preset: "public_chat" });
  });
  afterEach(() => hs.close());

  it("refuses with 413 M_TOO_LARGE an event whose PDU passes 65,536 bytes, even when its content alone is smaller", async () => {
    const padding = (bytes: number): Record<string, unknown> => ({ msgtype: "m.text", body: "x".repeat(bytes - 31) }); // 31: the JSON around body
    const room = (): number => hs.timeline(roomId).length;
    const fits = await alice.request("PUT", sendPath(roomId, "fits"), { body: padding(64_000) });
    expect(fits.status).toBe(200);
    const before = room();
    const nearly = padding(65_000); // under 65,536 as content and as a ClientEvent, over it with the PDU envelope
    expect(Buffer.byteLength(JSON.stringify({ content: nearly, event_id: "$".padEnd(44, "x"), room_id: roomId, sender: alice.userId }))).toBeLessThan(65_536);
    const refused = await alice.request("PUT", sendPath(roomId, "too-big"), { body: nearly });
    expect(refused).toMatchObject({ status: 413, body: { errcode: "M_TOO_LARGE", error: "event too large" } });
    expect(room()).toBe(before); // nothing stored
    expect(() => hs.sendEvent(alice.userId, roomId, "m.room.message", nearly)).toThrow(MatrixHttpError);
    expect(room()).toBe(before);
  });

  it("refuses with 413 a type or state key longer than 255 characters", async () => {
    const longType = await alice.request("PUT", `rooms/${encodeURIComponent(roomId)}/send/${"t".repeat(256)}/t1`, { body: {} });
    expect(longType).toMatchObject({ status: 413, body: { errcode: "M_TOO_LARGE", error: "'type' too large" } });
    const longKey = await alice.request("PUT", `rooms/${encodeURIComponent(roomId)}/state/m.custom/${"k".repeat(256)}`, { body: {} });
    expect(longKey).toMatchObject({ status: 413, body: { errcode: "M_TOO_LARGE", error: "'state_key' too large" } });
    expect((await alice.request("PUT", `rooms/${encodeURIComponent(roomId)}/send/${"t".repeat(255)}/t2`, { body: {} })).status).toBe(200);
  });

  it("can answer 429 M_LIMIT_EXCEEDED with only a Retry-After header (no retry_after_ms), as Matrix v1.10+ allows", async () => {
    hs.failNext({ pathIncludes: "/send/" }, { status: 429, errcode: "M_LIMIT_EXCEEDED", retry_after_ms: 1500, retryAfterIn: "header" });
    const limited = await alice.request("PUT", sendPath(roomId, "r1"), { body: { body: "hi" } });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("2");
    expect(limited.body).toEqual({ errcode: "M_LIMIT_EXCEEDED", error: "Too Many Requests" });
    hs.failNext({ pathIncludes: "/send/" }, { status: 429, errcode: "M_LIMIT_EXCEEDED", retry_after_ms: 1500, retryAfterIn: "body" });
    const old = await alice.request("PUT", sendPath(roomId, "r1"), { body: { body: "hi" } });
    expect([old.headers.get("retry-after"), old.body]).toEqual([null, { errcode: "M_LIMIT_EXCEEDED", error: "Too Many Requests", retry_after_ms: 1500 }]);
  });

  describe("appservice interest", () => {
    let as: FakeAppservice;
    beforeEach(async () => {
      as = await new FakeAppservice().start();
    });
    afterEach(() => as.stop());
    const pushed = (): ClientEvent[] => as.received.flatMap((r) => r.events);

    it("is the room's only once a user of its namespace is joined: an invited one is not enough", async () => {
      const { senderUserId } = hs.addAppservice(registration(as.url));
      const room = hs.createRoom(alice.userId, { invite: [senderUserId] });
      hs.sendEvent(alice.userId, room, "m.room.message", { body: "before the join" });
      await hs.waitFor(() => hs.appserviceIdle("agent-bridge") && pushed().length > 0, { what: "the invite push" });
      expect(pushed().map((e) => [e.type, e.state_key ?? e.content["body"]])).toEqual([["m.room.member", senderUserId]]);
      hs.join(senderUserId, room);
      hs.sendEvent(alice.userId, room, "m.room.message", { body: "after the join" });
      hs.leave(senderUserId, room);
      hs.sendEvent(alice.userId, room, "m.room.message", { body: "after the leave" });
      await hs.waitFor(() => hs.appserviceIdle("agent-bridge") && pushed().length === 4, { what: "the pushes after the join" });
      expect(pushed().slice(1).map((e) => e.content["membership"] ?? e.content["body"])).toEqual(["join", "after the join", "leave"]);
    });

    it("is any room in its rooms namespace or with an alias in its aliases namespace, and its users' memberships", async () => {
      const watched = hs.createRoom(alice.userId);
      hs.addAppservice({ ...registration(as.url), namespaces: {
        users: [{ exclusive: true, regex: "@agent_.*:localhost" }], rooms: [{ exclusive: false, regex: watched.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") }],
        aliases: [{ exclusive: false, regex: "#bridged_.*:localhost" }] } });
      const aliased = hs.createRoom(alice.userId, { roomAliasName: "bridged_lobby" });
      const plain = hs.createRoom(alice.userId);
      hs.sendEvent(alice.userId, watched, "m.room.message", { body: "in the watched room" });
      hs.sendEvent(alice.userId, aliased, "m.room.message", { body: "in the aliased room" });
      hs.sendEvent(alice.userId, plain, "m.room.message", { body: "in a plain room" });
      hs.invite(alice.userId, plain, "@agent_7:localhost"); // its user invited: that event only
      await hs.waitFor(() => hs.appserviceIdle("agent-bridge") && pushed().some((e) => e.state_key === "@agent_7:localhost"), { what: "the pushes" });
      expect(pushed().filter((e) => e.room_id === plain).map((e) => e.state_key)).toEqual(["@agent_7:localhost"]);
      expect(pushed().some((e) => e.content["body"] === "in the aliased room")).toBe(true);
      expect(pushed().some((e) => e.content["body"] === "in the watched room")).toBe(true);
      expect(pushed().some((e) => e.content["body"] === "in a plain room")).toBe(false);
    });

    it("sends an invite of its user with invite_room_state (prejoin state and the inviter), as /sync's invite_state", async () => {
      const { senderUserId } = hs.addAppservice(registration(as.url));
      const room = hs.createRoom(alice.userId, { name: "Planning", topic: "Q3", isDirect: true, invite: [senderUserId] });
      await hs.waitFor(() => pushed().some((e) => e.state_key === senderUserId), { what: "the invite push" });
      const invite = pushed().find((e) => e.state_key === senderUserId);
      const state = (invite?.unsigned?.["invite_room_state"] ?? []) as Array<{ type: string; state_key: string; sender: string }>;
      expect(state.map((e) => e.type).sort()).toEqual(["m.room.create", "m.room.join_rules", "m.room.member", "m.room.name", "m.room.topic"]);
      expect(state.find((e) => e.type === "m.room.member")).toMatchObject({ state_key: alice.userId, sender: alice.userId });
      const bob = new MatrixTestUser(hs.url, hs.addUser("bob"));
      await alice.call("POST", `rooms/${encodeURIComponent(room)}/invite`, { body: { user_id: bob.userId } });
      const sync = (await bob.sync()) as unknown as { rooms: { invite: Record<string, { invite_state: { events: Array<{ type: string }> } }> } };
      const inviteState = sync.rooms.invite[room]?.invite_state.events ?? [];
      expect(inviteState.map((e) => e.type).sort()).toEqual(["m.room.create", "m.room.join_rules", "m.room.member", "m.room.member",
        "m.room.name", "m.room.topic"]);
      // Bob's invite concerns no user of the appservice, and the room has none joined: not pushed at all.
      await hs.waitFor(() => hs.appserviceIdle("agent-bridge"), { what: "the pushes done" });
      expect(pushed().filter((e) => e.state_key === bob.userId)).toEqual([]);
    });
  });

  it("remembers a send txnId per request path and access token, masqueraded users of one appservice sharing it", async () => {
    const first = await alice.call<{ event_id: string }>("PUT", sendPath(roomId, "same"), { body: { body: "one" } });
    expect((await alice.call<{ event_id: string }>("PUT", sendPath(roomId, "same"), { body: { body: "two" } })).event_id).toBe(first.event_id);
    const otherToken = hs.addUser("carol");
    const carol = new MatrixTestUser(hs.url, otherToken);
    hs.join(carol.userId, roomId);
    expect((await carol.call<{ event_id: string }>("PUT", sendPath(roomId, "same"), { body: { body: "three" } })).event_id).not.toBe(first.event_id);
    // An appservice's as_token is one token: two users it masquerades as share its txnIds (Synapse 1.67 keys on path + token).
    const as = await new FakeAppservice().start();
    try {
      const { senderUserId } = hs.addAppservice(registration(as.url));
      hs.join(senderUserId, roomId);
      const asClient = new MatrixTestUser(hs.url, { userId: senderUserId, accessToken: "as-secret" });
      await asClient.call("POST", "register", { body: { type: "m.login.application_service", username: "agent_1", inhibit_login: true } });
      await asClient.call("POST", `join/${encodeURIComponent(roomId)}`, { body: {}, query: { user_id: "@agent_1:localhost" } });
      const asBot = await asClient.call<{ event_id: string }>("PUT", sendPath(roomId, "as-1"), { body: { body: "bot" } });
      const asUser = await asClient.call<{ event_id: string }>("PUT", sendPath(roomId, "as-1"), { body: { body: "user" }, query: { user_id: "@agent_1:localhost" } });
      expect(asUser.event_id).toBe(asBot.event_id);
    } finally {
      await as.stop();
    }
  });

  it("forgets a txnId once a cleanup period (Synapse: 30 min) has passed twice, and never remembers a refused send", async () => {
    const first = await alice.call<{ event_id: string }>("PUT", sendPath(roomId, "t"), { body: { body: "one" } });
    clock += 30 * 60_000 + 1; // first cleanup: the entry is exactly one period old, kept
    expect((await alice.call<{ event_id: string }>("PUT", sendPath(roomId, "t"), { body: { body: "one" } })).event_id).toBe(first.event_id);
    clock += 30 * 60_000; // second cleanup: older than a period, gone
    const later = await alice.call<{ event_id: string }>("PUT", sendPath(roomId, "t"), { body: { body: "one" } });
    expect(later.event_id).not.toBe(first.event_id);
    hs.failNext({ pathIncludes: "/send/" }, { status: 429, errcode: "M_LIMIT_EXCEEDED", retry_after_ms: 10 });
    expect((await alice.request("PUT", sendPath(roomId, "u"), { body: { body: "x" } })).status).toBe(429);
    const retried = await alice.request("PUT", sendPath(roomId, "u"), { body: { body: "x" } });
    expect(retried.status).toBe(200);
    expect(hs.timeline(roomId).filter((e) => e.content["body"] === "x")).toHaveLength(1);
  });
});
