// Appservice mode: a named agent's messages are sent as its own user (`user_id`, identity assertion), under a txnId
// that names that user: Synapse keys an appservice's txnIds on its one as_token, so without the user in it the
// agent's message would be deduplicated into the bot's message of the same txnId. A resend (after a crash) is
// deduplicated as usual.
import pino from "pino";
import { createMatrixHttp } from "../../../src/matrix/http";
import { MatrixSender } from "../../../src/matrix/sender";
import { startHomeserver, type Homeserver } from "../../support/homeserver";
import { FakeAppservice, registration } from "../homeserver/fake-appservice";

describe("MatrixSender as an appservice user", () => {
  let hs: Homeserver;
  let as: FakeAppservice;
  afterEach(async () => {
    await hs.close();
    await as.stop();
  });

  it("sends as the user, once per txnId and user, and is refused outside the namespace", async () => {
    hs = await startHomeserver();
    as = await new FakeAppservice().start();
    const { senderUserId } = hs.addAppservice(registration(as.url));
    const alice = hs.addUser("alice");
    const roomId = hs.createRoom(alice.userId, { preset: "public_chat" });
    hs.join(senderUserId, roomId);
    const http = createMatrixHttp({ homeserverUrl: hs.url, accessToken: "as-secret", requestTimeoutMs: 5000 });
    await http.request("POST", "/_matrix/client/v3/register", { body: { type: "m.login.application_service", username: "agent_coder", inhibit_login: true } });
    const agentUser = "@agent_coder:localhost";
    hs.join(agentUser, roomId);
    const sender = new MatrixSender(http, { userId: senderUserId, retryBaseMs: 1, retryMaxMs: 4, maxAttempts: 3, onTokenRejected: () => undefined },
      pino({ level: "silent" }));
    const asBot = await sender.sendEvent(roomId, "m.room.message", { msgtype: "m.text", body: "bot" }, "t1");
    const asAgent = await sender.sendEvent(roomId, "m.room.message", { msgtype: "m.text", body: "coder" }, "t1", agentUser);
    const again = await sender.sendEvent(roomId, "m.room.message", { msgtype: "m.text", body: "coder" }, "t1", agentUser);
    expect(asAgent).toMatchObject({ ok: true });
    expect(again).toMatchObject({ ok: true, eventId: asAgent.ok ? asAgent.eventId : "" });
    expect(asBot.ok && asAgent.ok && asBot.eventId !== asAgent.eventId).toBe(true);
    expect(hs.sent({ roomId, type: "m.room.message" }).map((e) => [e.sender, e.content["body"]]))
      .toEqual([[senderUserId, "bot"], [agentUser, "coder"]]);
    const outside = await sender.sendEvent(roomId, "m.room.message", { msgtype: "m.text", body: "x" }, "t2", alice.userId);
    expect(outside).toMatchObject({ ok: false, permanent: true, error: { errcode: "M_FORBIDDEN" } });
  });
});
