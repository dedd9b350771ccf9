// Contract: reactions (m.annotation) as Synapse 1.67 handles them: stored and served like any event, a second
// identical one by the same sender refused with 400 M_UNKNOWN "Can't send same reaction twice" (a resend under the
// same txnId is idempotent instead), allowed again once the first was redacted; poll events pass as any event. The
// bot's sender counts such a refusal as delivered.
import pino from "pino";
import { createMatrixHttp } from "../../../src/matrix/http";
import { MatrixSender } from "../../../src/matrix/sender";
import { startHomeserver, type Homeserver } from "../../support/homeserver";
import { MatrixTestUser } from "../../support/matrix-test-user";

describe("homeserver double: reactions", () => {
  let hs: Homeserver;
  let alice: MatrixTestUser;
  let roomId: string;
  let target: string;
  const reaction = (key: string) => ({ "m.relates_to": { rel_type: "m.annotation", event_id: target, key } });

  beforeEach(async () => {
    hs = await startHomeserver();
    alice = new MatrixTestUser(hs.url, hs.addUser("alice"));
    roomId = hs.createRoom(alice.userId);
    target = await alice.sendText(roomId, "approve?");
  });
  afterEach(() => hs.close());

  it("refuses a second identical reaction as Synapse 1.67 does; the same txnId again is the same event; redacted, it may come again", async () => {
    const first = await alice.send(roomId, "m.reaction", reaction("✅"), "r1");
    expect(await alice.send(roomId, "m.reaction", reaction("✅"), "r1")).toBe(first);
    const again = await alice.request("PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.reaction/r2`, { body: reaction("✅") });
    expect(again.status).toBe(400);
    expect(again.body).toEqual({ errcode: "M_UNKNOWN", error: "Can't send same reaction twice" });
    await alice.send(roomId, "m.reaction", reaction("❌"), "r3"); // another key is another annotation
    await alice.redact(roomId, first);
    await alice.send(roomId, "m.reaction", reaction("✅"), "r4");
    expect(hs.sent({ roomId, type: "m.reaction" })).toHaveLength(3);
    const missingKey = await alice.request("PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.reaction/r5`,
      { body: { "m.relates_to": { rel_type: "m.annotation", event_id: target } } });
    expect(missingKey.status).toBe(400);
  });

  it("serves poll start, response and end events like any room event", async () => {
    const poll = await alice.send(roomId, "org.matrix.msc3381.poll.start", { "org.matrix.msc3381.poll.start": { question: {}, answers: [] } });
    await alice.send(roomId, "org.matrix.msc3381.poll.response", { "m.relates_to": { rel_type: "m.reference", event_id: poll } });
    await alice.send(roomId, "m.poll.response", { "m.relates_to": { rel_type: "m.reference", event_id: poll }, "m.selections": ["o1"] });
    await alice.send(roomId, "org.matrix.msc3381.poll.end", { "m.relates_to": { rel_type: "m.reference", event_id: poll } });
    expect(hs.sent({ roomId }).map((e) => e.type)).toEqual(expect.arrayContaining(["org.matrix.msc3381.poll.start",
      "org.matrix.msc3381.poll.response", "m.poll.response", "org.matrix.msc3381.poll.end"]));
  });

  it("the bot's sender counts a reaction refused as a duplicate as delivered", async () => {
    const bot = hs.addUser("bot");
    await alice.invite(roomId, bot.userId);
    hs.join(bot.userId, roomId);
    const sender = new MatrixSender(createMatrixHttp({ homeserverUrl: hs.url, accessToken: bot.accessToken, requestTimeoutMs: 5000 }),
      { userId: bot.userId, retryBaseMs: 1, retryMaxMs: 4, maxAttempts: 3, onTokenRejected: () => undefined }, pino({ level: "silent" }));
    expect(await sender.sendEvent(roomId, "m.reaction", reaction("✅"), "b1")).toMatchObject({ ok: true });
    expect(await sender.sendEvent(roomId, "m.reaction", reaction("✅"), "b2")).toMatchObject({ ok: true, eventId: "" });
    expect(hs.sent({ roomId, type: "m.reaction", sender: bot.userId })).toHaveLength(1);
    // Any other refusal stays a failure.
    const other = await sender.sendEvent(roomId, "m.reaction", { "m.relates_to": { rel_type: "m.annotation", event_id: target } }, "b3");
    expect(other).toMatchObject({ ok: false, permanent: true });
  });
});
