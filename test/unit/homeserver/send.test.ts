// Contract: PUT /send (shape, txnId idempotency per token, membership), /event, redaction, held sends.
import { startHomeserver, type ClientEvent, type Homeserver } from "../../support/homeserver";
import { MatrixTestUser } from "../../support/matrix-test-user";

describe("homeserver double: sending events", () => {
  let hs: Homeserver;
  let alice: MatrixTestUser;
  let bob: MatrixTestUser;
  let roomId: string;
  const sendPath = (room: string, txnId: string): string => `rooms/${encodeURIComponent(room)}/send/m.room.message/${txnId}`;

  beforeEach(async () => {
    hs = await startHomeserver();
    alice = new MatrixTestUser(hs.url, hs.addUser("alice", { password: "pw" }));
    bob = new MatrixTestUser(hs.url, hs.addUser("bob"));
    roomId = hs.createRoom(alice.userId, { invite: [bob.userId] });
  });
  afterEach(() => hs.close());

  it("stores a spec ClientEvent and serves it from /event", async () => {
    const eventId = await alice.sendText(roomId, "hello", { "m.mentions": {} });
    expect(eventId).toMatch(/^\$[A-Za-z0-9_-]{43}$/);
    const event = await alice.call<ClientEvent>("GET", `rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(eventId)}`);
    expect(event).toEqual({
      event_id: eventId,
      type: "m.room.message",
      sender: alice.userId,
      room_id: roomId,
      origin_server_ts: expect.any(Number),
      content: { msgtype: "m.text", body: "hello", "m.mentions": {} },
      unsigned: { age: expect.any(Number), transaction_id: expect.any(String) },
    });
    const missing = await alice.request("GET", `rooms/${encodeURIComponent(roomId)}/event/%24nope`);
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ errcode: "M_NOT_FOUND" });
  });

  it("is idempotent per access token and txnId; another token's same txnId is a new event", async () => {
    const first = await alice.call<{ event_id: string }>("PUT", sendPath(roomId, "txn-1"), { body: { msgtype: "m.text", body: "once" } });
    const again = await alice.call<{ event_id: string }>("PUT", sendPath(roomId, "txn-1"), { body: { msgtype: "m.text", body: "once" } });
    expect(again.event_id).toBe(first.event_id);
    expect(hs.sent({ roomId, type: "m.room.message" })).toHaveLength(1);

    const otherDevice = await MatrixTestUser.login(hs.url, "alice", "pw");
    const fromOtherDevice = await otherDevice.call<{ event_id: string }>("PUT", sendPath(roomId, "txn-1"), { body: { msgtype: "m.text", body: "once" } });
    expect(fromOtherDevice.event_id).not.toBe(first.event_id);
    expect(hs.sent({ roomId, type: "m.room.message" })).toHaveLength(2);
  });

  it("shows unsigned.transaction_id only to the token that sent the event", async () => {
    hs.join(bob.userId, roomId);
    const eventId = await alice.send(roomId, "m.room.message", { msgtype: "m.text", body: "x" }, "my-txn");
    const path = `rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(eventId)}`;
    expect((await alice.call<ClientEvent>("GET", path)).unsigned?.["transaction_id"]).toBe("my-txn");
    expect((await bob.call<ClientEvent>("GET", path)).unsigned?.["transaction_id"]).toBeUndefined();
    expect(hs.timeline(roomId).at(-1)?.unsigned?.["transaction_id"]).toBeUndefined();
  });

  it("refuses sends from non-members with 403 M_FORBIDDEN and into unknown rooms with 404", async () => {
    const invitedOnly = await bob.request("PUT", sendPath(roomId, "t"), { body: { body: "x" } });
    expect(invitedOnly.status).toBe(403);
    expect(invitedOnly.body).toMatchObject({ errcode: "M_FORBIDDEN" });
    const unknown = await alice.request("PUT", sendPath("!missing:localhost", "t"), { body: { body: "x" } });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ errcode: "M_NOT_FOUND" });
    expect(() => hs.sendEvent(bob.userId, roomId, "m.room.message", { body: "x" })).toThrow(/not in room/);
  });

  it("redacts: strips content, keeps redacted_because, and is idempotent per txnId", async () => {
    const eventId = hs.sendEvent(alice.userId, roomId, "m.room.message", { msgtype: "m.text", body: "secret" });
    const path = `rooms/${encodeURIComponent(roomId)}/redact/${encodeURIComponent(eventId)}/r1`;
    const first = await alice.call<{ event_id: string }>("PUT", path, { body: { reason: "oops" } });
    const again = await alice.call<{ event_id: string }>("PUT", path, { body: { reason: "oops" } });
    expect(again.event_id).toBe(first.event_id);
    const redacted = hs.timeline(roomId).find((e) => e.event_id === eventId);
    expect(redacted?.content).toEqual({});
    expect(redacted?.unsigned?.["redacted_because"]).toMatchObject({ type: "m.room.redaction", redacts: eventId, content: { redacts: eventId, reason: "oops" } });
    expect(hs.sent({ roomId, type: "m.room.redaction" })).toHaveLength(1);
  });

  it("holds PUT /send for sendDelayMs and gauges concurrency in inFlight", async () => {
    hs.sendDelayMs = 100;
    await Promise.all([alice.sendText(roomId, "a"), alice.sendText(roomId, "b"), alice.sendText(roomId, "c")]);
    expect(hs.inFlight).toEqual({ current: 0, max: 3 });
    hs.resetInFlight();
    hs.sendDelayMs = 0;
    await alice.sendText(roomId, "d");
    await alice.sendText(roomId, "e");
    expect(hs.inFlight.max).toBe(1);
  });

  it("records typing and receipts, and checks membership for both", async () => {
    const eventId = hs.sendEvent(alice.userId, roomId, "m.room.message", { body: "x" });
    await alice.typing(roomId, true, 5000);
    await alice.typing(roomId, false);
    await alice.readReceipt(roomId, eventId);
    await alice.call("POST", `rooms/${encodeURIComponent(roomId)}/read_markers`, { body: { "m.fully_read": eventId } });
    expect(hs.typing.map(({ roomId: r, userId, typing, timeout }) => ({ r, userId, typing, timeout }))).toEqual([
      { r: roomId, userId: alice.userId, typing: true, timeout: 5000 },
      { r: roomId, userId: alice.userId, typing: false, timeout: undefined },
    ]);
    expect(hs.receipts.map((r) => [r.userId, r.eventId, r.type])).toEqual([
      [alice.userId, eventId, "m.read"],
      [alice.userId, eventId, "m.fully_read"],
    ]);
    expect((await bob.request("PUT", `rooms/${encodeURIComponent(roomId)}/typing/${encodeURIComponent(alice.userId)}`, { body: { typing: true } })).status).toBe(403);
    expect((await bob.request("POST", `rooms/${encodeURIComponent(roomId)}/receipt/m.read/${encodeURIComponent(eventId)}`, { body: {} })).status).toBe(403);
  });
});
