// A redaction goes through the same send path as any room event (our txnId, the same retries): sendEvent with type
// m.room.redaction and content { redacts, reason } becomes PUT /redact/{eventId}/{txnId}, which the homeserver
// deduplicates like a send: the same txnId again redacts nothing twice.
import pino from "pino";
import { createMatrixHttp } from "../../../src/matrix/http";
import { MatrixSender } from "../../../src/matrix/sender";
import { startHomeserver, type Homeserver } from "../../support/homeserver";

describe("MatrixSender redactions", () => {
  let hs: Homeserver;
  afterEach(async () => hs.close());

  it("redacts through the redact endpoint, once per txnId", async () => {
    hs = await startHomeserver();
    const bot = hs.addUser("bot");
    const roomId = hs.createRoom(bot.userId);
    const target = hs.sendEvent(bot.userId, roomId, "m.room.message", { msgtype: "m.text", body: "secret" });
    const http = createMatrixHttp({ homeserverUrl: hs.url, accessToken: bot.accessToken, requestTimeoutMs: 5000 });
    const sender = new MatrixSender(http, { userId: bot.userId, retryBaseMs: 1, retryMaxMs: 4, maxAttempts: 3, onTokenRejected: () => undefined },
      pino({ level: "silent" }));
    const first = await sender.sendEvent(roomId, "m.room.redaction", { redacts: target, reason: "the question was deleted" }, "r1");
    const again = await sender.sendEvent(roomId, "m.room.redaction", { redacts: target, reason: "the question was deleted" }, "r1");
    expect(first).toMatchObject({ ok: true });
    expect(again).toMatchObject({ ok: true, eventId: first.ok ? first.eventId : "" });
    const redactions = hs.sent({ roomId, type: "m.room.redaction" });
    expect(redactions).toHaveLength(1);
    expect(redactions[0]).toMatchObject({ redacts: target, content: { reason: "the question was deleted" } });
    expect(hs.timeline(roomId).find((e) => e.event_id === target)?.content).toEqual({});
    expect(hs.requests.filter((r) => r.path.includes("/redact/")).map((r) => r.path))
      .toEqual([expect.stringContaining(`/redact/${target}/r1`), expect.stringContaining(`/redact/${target}/r1`)]);
  });
});
