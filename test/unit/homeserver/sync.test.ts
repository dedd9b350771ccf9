// Contract: /sync (initial, incremental long-poll, limited timelines, invites, leaves, ephemeral)
// and /messages backfill from prev_batch.
import { startHomeserver, type ClientEvent, type Homeserver } from "../../support/homeserver";
import { MatrixTestUser } from "../../support/matrix-test-user";

type Json = Record<string, unknown>;
interface JoinedRoom {
  timeline: { events: ClientEvent[]; limited: boolean; prev_batch: string };
  state: { events: ClientEvent[] };
  ephemeral: { events: Json[] };
}
const joined = (sync: Json, roomId: string): JoinedRoom | undefined =>
  ((sync["rooms"] as Json)["join"] as Record<string, JoinedRoom>)[roomId];
const section = (sync: Json, kind: "invite" | "leave"): Record<string, Json> => (sync["rooms"] as Json)[kind] as Record<string, Json>;

describe("homeserver double: /sync", () => {
  let hs: Homeserver;
  let alice: MatrixTestUser;
  let bob: MatrixTestUser;
  let roomId: string;

  beforeEach(async () => {
    hs = await startHomeserver({ defaultTimelineLimit: 5 });
    alice = new MatrixTestUser(hs.url, hs.addUser("alice", { displayName: "Alice" }));
    bob = new MatrixTestUser(hs.url, hs.addUser("bob"));
    roomId = hs.createRoom(alice.userId, { name: "Room", invite: [bob.userId] });
    hs.join(bob.userId, roomId);
  });
  afterEach(() => hs.close());

  it("initial sync returns joined rooms with state and the latest timeline window, events without room_id", async () => {
    const sync = await bob.sync();
    expect(sync.next_batch).toEqual(expect.any(String));
    const room = joined(sync, roomId);
    expect(room?.timeline.events).toHaveLength(5);
    expect(room?.timeline.limited).toBe(true);
    expect(room?.timeline.events.at(-1)).toMatchObject({ type: "m.room.member", state_key: bob.userId, content: { membership: "join" } });
    expect(room?.timeline.events.every((e) => !("room_id" in e))).toBe(true);
    const stateTypes = room?.state.events.map((e) => e.type) ?? [];
    expect(stateTypes).toEqual(expect.arrayContaining(["m.room.create", "m.room.power_levels"]));
    expect(sync["account_data"]).toEqual({ events: [] });
  });

  it("long-polls: returns as soon as an event arrives, with transaction_id for the sender's own send", async () => {
    const initial = await alice.sync();
    // A timeout longer than the test's own: only an early answer lets this test pass.
    const polling = alice.sync({ since: initial.next_batch, timeout: 60_000 });
    await hs.waitFor(() => hs.pendingSyncs === 1, { what: "the long-poll to park" });
    const eventId = await alice.send(roomId, "m.room.message", { msgtype: "m.text", body: "hi" }, "t-42");
    const next = await polling;
    const events = joined(next, roomId)?.timeline.events ?? [];
    expect(events.map((e) => e.event_id)).toEqual([eventId]);
    expect(events[0]?.unsigned?.["transaction_id"]).toBe("t-42");
    expect(joined(next, roomId)?.timeline.limited).toBe(false);
    const bobView = await bob.sync({ since: initial.next_batch, timeout: 0 });
    expect(joined(bobView, roomId)?.timeline.events[0]?.unsigned?.["transaction_id"]).toBeUndefined();
  });

  it("times out with an empty response when nothing happens", async () => {
    const initial = await alice.sync();
    const next = await alice.sync({ since: initial.next_batch, timeout: 100 });
    expect(next.next_batch).toBe(initial.next_batch);
    expect(next["rooms"]).toEqual({ join: {}, invite: {}, leave: {}, knock: {} });
    expect(hs.pendingSyncs).toBe(0);
  });

  it("frees the waiter when the client goes away mid-poll", async () => {
    const initial = await alice.sync();
    const abort = new AbortController();
    const url = `${hs.url}/_matrix/client/v3/sync?since=${initial.next_batch}&timeout=10000`;
    const polling = fetch(url, { headers: { authorization: `Bearer ${alice.accessToken}` }, signal: abort.signal }).catch(() => "aborted");
    await hs.waitFor(() => hs.pendingSyncs === 1, { what: "the long-poll to park" });
    abort.abort();
    expect(await polling).toBe("aborted");
    await hs.waitFor(() => hs.pendingSyncs === 0, { what: "the waiter to be released" });
  });

  it("answers a parked long-poll when the double closes", async () => {
    const initial = await alice.sync();
    const polling = alice.sync({ since: initial.next_batch, timeout: 60_000 }).then(
      () => "answered",
      () => "connection closed",
    );
    await hs.waitFor(() => hs.pendingSyncs === 1, { what: "the long-poll to park" });
    await hs.close();
    expect(["answered", "connection closed"]).toContain(await polling);
    expect(hs.pendingSyncs).toBe(0);
  });

  it("marks a gap limited with prev_batch, and /messages fetches the rest backwards from it", async () => {
    const initial = await alice.sync();
    const bodies = Array.from({ length: 12 }, (_, i) => `m${i}`);
    for (const body of bodies) hs.sendEvent(bob.userId, roomId, "m.room.message", { msgtype: "m.text", body });
    hs.setState(alice.userId, roomId, "m.room.topic", "", { topic: "in the gap" });
    for (const body of ["late1", "late2", "late3", "late4", "late5"]) hs.sendEvent(bob.userId, roomId, "m.room.message", { msgtype: "m.text", body });

    const next = await alice.sync({ since: initial.next_batch, timeout: 0 });
    const room = joined(next, roomId);
    expect(room?.timeline.limited).toBe(true);
    expect(room?.timeline.events.map((e) => e.content["body"])).toEqual(["late1", "late2", "late3", "late4", "late5"]);
    expect(room?.state.events.map((e) => [e.type, e.content])).toEqual([["m.room.topic", { topic: "in the gap" }]]);

    const page1 = await alice.messages(roomId, { from: room?.timeline.prev_batch ?? "", dir: "b", limit: 8 });
    expect(page1.chunk.map((e) => e["type"])).toEqual(["m.room.topic", ...Array(7).fill("m.room.message")]);
    expect(page1.chunk.every((e) => e["room_id"] === roomId)).toBe(true);
    expect(page1.end).toEqual(expect.any(String));
    const page2 = await alice.messages(roomId, { from: page1.end ?? "", dir: "b", limit: 5 });
    const backwards = [...page1.chunk, ...page2.chunk].filter((e) => e["type"] === "m.room.message").map((e) => (e["content"] as Json)["body"]);
    expect(backwards).toEqual([...bodies].reverse());

    const forward = await alice.messages(roomId, { from: initial.next_batch, dir: "f", limit: 100 });
    expect(forward.chunk).toHaveLength(18);
    expect(forward.end).toBeUndefined();
  });

  it("honours the filter's timeline limit by id or inline", async () => {
    for (let i = 0; i < 4; i += 1) hs.sendEvent(alice.userId, roomId, "m.room.message", { body: `n${i}` });
    const { filter_id: filterId } = await bob.call<{ filter_id: string }>("POST", `user/${encodeURIComponent(bob.userId)}/filter`, {
      body: { room: { timeline: { limit: 2 } } },
    });
    expect(joined(await bob.sync({ filter: filterId }), roomId)?.timeline.events).toHaveLength(2);
    expect(joined(await bob.sync({ filter: { room: { timeline: { limit: 3 } } } }), roomId)?.timeline.events).toHaveLength(3);
    expect((await bob.request("GET", "sync", { query: { filter: "nope" } })).status).toBe(400);
  });

  it("delivers invites with stripped invite_state: create, name, join rules, inviter and the invite", async () => {
    const carol = new MatrixTestUser(hs.url, hs.addUser("carol"));
    const initial = await carol.sync();
    const polling = carol.sync({ since: initial.next_batch, timeout: 60_000 });
    await hs.waitFor(() => hs.pendingSyncs === 1, { what: "carol's long-poll" });
    await alice.invite(roomId, carol.userId);
    const invite = section(await polling, "invite")[roomId] as { invite_state: { events: Json[] } };
    const stripped = invite.invite_state.events;
    expect(stripped.map((e) => `${String(e["type"])}|${String(e["state_key"])}`)).toEqual(
      expect.arrayContaining(["m.room.create|", "m.room.name|", "m.room.join_rules|", `m.room.member|${alice.userId}`, `m.room.member|${carol.userId}`]),
    );
    expect(stripped.find((e) => e["state_key"] === carol.userId)).toEqual({
      type: "m.room.member",
      state_key: carol.userId,
      sender: alice.userId,
      content: { membership: "invite", displayname: "carol" },
    });
  });

  it("reports a kick in rooms.leave with the leave event, and full state on a fresh join", async () => {
    const before = await bob.sync();
    hs.sendEvent(alice.userId, roomId, "m.room.message", { body: "last words" });
    hs.kick(alice.userId, roomId, bob.userId, "out");
    hs.sendEvent(alice.userId, roomId, "m.room.message", { body: "after bob left" });
    const next = await bob.sync({ since: before.next_batch, timeout: 0 });
    const left = section(next, "leave")[roomId] as { timeline: { events: ClientEvent[] } };
    expect(left.timeline.events.map((e) => e.content["body"] ?? e.content["membership"])).toEqual(["last words", "leave"]);
    expect(joined(next, roomId)).toBeUndefined();
    expect((await bob.request("GET", `rooms/${encodeURIComponent(roomId)}/messages`, { query: { dir: "b" } })).status).toBe(200);
    const outsider = new MatrixTestUser(hs.url, hs.addUser("outsider"));
    expect((await outsider.request("GET", `rooms/${encodeURIComponent(roomId)}/messages`)).status).toBe(403);

    hs.invite(alice.userId, roomId, bob.userId);
    await bob.join(roomId);
    const rejoined = joined(await bob.sync({ since: next.next_batch, timeout: 0 }), roomId);
    expect(rejoined?.state.events.map((e) => e.type)).toEqual(expect.arrayContaining(["m.room.create", "m.room.power_levels", "m.room.name"]));
    expect(rejoined?.timeline.events.at(-1)).toMatchObject({ state_key: bob.userId, content: { membership: "join" } });
  });

  it("carries typing and read receipts in ephemeral", async () => {
    const initial = await bob.sync();
    const eventId = hs.sendEvent(alice.userId, roomId, "m.room.message", { body: "x" });
    await alice.typing(roomId, true, 10_000);
    await alice.readReceipt(roomId, eventId);
    const next = await bob.sync({ since: initial.next_batch, timeout: 0 });
    const ephemeral = joined(next, roomId)?.ephemeral.events ?? [];
    expect(ephemeral).toContainEqual({ type: "m.typing", content: { user_ids: [alice.userId] } });
    expect(ephemeral).toContainEqual({ type: "m.receipt", content: { [eventId]: { "m.read": { [alice.userId]: { ts: expect.any(Number) } } } } });
  });
});
