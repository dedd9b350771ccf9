// The appservice server fed by the homeserver double: real pushes, its retries of a refused transaction.
import { startHomeserver, type AppserviceAuthStyle, type Homeserver } from "../../support/homeserver";
import { AppserviceFixture, BOT, HS_TOKEN } from "./support";

describe("appservice server with the homeserver double", () => {
  let hs: Homeserver;
  let as: AppserviceFixture;

  beforeEach(async () => {
    hs = await startHomeserver({ serverName: "example.org", txnRetryMs: 10 });
    as = await new AppserviceFixture().start();
  });
  afterEach(async () => {
    await hs.close();
    await as.close();
  });

  const register = (legacyAuth: AppserviceAuthStyle = "both"): void => {
    const { senderUserId } = hs.addAppservice({
      id: "agent-bot", url: as.url, as_token: "as-token-1", hs_token: HS_TOKEN, sender_localpart: "agentbot",
      namespaces: { users: [{ exclusive: true, regex: "@_agent_.*:example\\.org" }] },
    }, { legacyAuth });
    expect(senderUserId).toBe(BOT);
  };

  it.each<AppserviceAuthStyle>(["both", "header", "query"])("receives an invite pushed with auth style %s", async (style) => {
    register(style);
    const alice = hs.addUser("alice");
    const roomId = hs.createRoom(alice.userId, { isDirect: true, invite: [BOT] });
    await hs.waitFor(() => as.items.some((i) => i.kind === "invite"), { what: "the invite item" });
    expect(as.items.find((i) => i.kind === "invite")).toEqual({
      kind: "invite", invite: { roomId, inviter: alice.userId, isDirect: true, via: ["example.org"] },
    });
    expect(hs.transactions.every((t) => t.status === 200)).toBe(true);
  });

  it("is retried by the homeserver after a refused transaction and processes it once", async () => {
    register();
    const alice = hs.addUser("alice");
    const roomId = hs.createRoom(alice.userId, { preset: "public_chat" });
    hs.join(BOT, roomId);
    await hs.waitFor(() => hs.appserviceIdle("agent-bot") && as.batches.length > 0, { what: "the join push" });

    let failures = 2;
    as.behaviour = async () => {
      if (failures > 0) {
        failures -= 1;
        throw new Error("store outage");
      }
    };
    const eventId = hs.sendEvent(alice.userId, roomId, "m.room.message", { msgtype: "m.text", body: "hello" });
    await hs.waitFor(() => hs.appserviceIdle("agent-bot"), { what: "the transaction to go through" });
    const attempts = hs.transactions.filter((t) => t.events.some((e) => e.event_id === eventId));
    expect(attempts.map((t) => t.status)).toEqual([500, 500, 200]);
    expect(new Set(attempts.map((t) => t.txnId)).size).toBe(1);

    // A redelivery of the completed transaction (e.g. the 200 got lost) is acknowledged, not processed again.
    const before = as.batches.length;
    const again = await hs.pushTransaction("agent-bot", attempts[0]?.events ?? [], { txnId: attempts[0]?.txnId ?? "" });
    expect(again).toEqual({ status: 200, body: {} });
    expect(as.batches.length).toBe(before);
  });
});
