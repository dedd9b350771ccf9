// Appservice mode end to end: the double pushes transactions (hs_token) to the bot's own transaction server;
// the bot answers a DM through the client API with its as_token. A redelivered transaction is not answered twice.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { useLoopbackWorld } from "../support/loopback-world";
import { MatrixTestUser } from "../support/matrix-test-user";
import { appserviceEnv, freePort, InProcessBot, writeRegistration } from "../support/bot-harness";
import { echoReplyFor } from "../../src/reference-agent/server";
import { botMessagesIn } from "../support/bot-messages";
import { expectSteady, waitForBotSettled } from "../support/bot-idle";

describe("a DM turn in appservice mode", () => {
  const world = useLoopbackWorld();

  it("answers through the appservice and ignores a transaction pushed again", async () => {
    const { hs, dataDir } = world;
    const port = await freePort();
    const reg = writeRegistration(dataDir, { port });
    const { senderUserId } = hs.addAppservice(parse(readFileSync(reg.path, "utf8")));
    const bot = world.track(await new InProcessBot(appserviceEnv({ homeserverUrl: hs.url, registrationPath: reg.path, port, dataDir }),
      [reg.asToken, reg.hsToken]).start(), (b) => b.stop());
    expect(bot.app.userId).toBe(senderUserId);

    const alice = new MatrixTestUser(hs.url, hs.addUser("alice", { displayName: "Alice" }));
    const { room_id: roomId } = await alice.createRoom({ is_direct: true, invite: [senderUserId], preset: "trusted_private_chat" });
    await hs.waitFor(() => hs.sent({ roomId, type: "m.room.member" }).some(
      (e) => e.state_key === senderUserId && e.content["membership"] === "join"), { what: "the bot joins" });

    const asked = await alice.sendText(roomId, "hello appservice");
    const answers = () => botMessagesIn(hs, roomId, senderUserId);
    await hs.waitFor(() => answers().length === 1, { what: "the answer" });
    expect(answers()[0]?.content["body"]).toBe(echoReplyFor("hello appservice"));

    // The homeserver pushes the same transaction again (e.g. it never saw our 200): no second answer.
    const pushed = hs.transactions.find((t) => t.events.some((e) => e.event_id === asked));
    expect(pushed).toBeDefined();
    const again = await hs.pushTransaction("matrix-agent-bot", pushed?.events ?? [], { txnId: pushed?.txnId ?? "" });
    expect(again.status).toBe(200);
    // And the same event inside a new transaction id: the journal dedupes it by event id.
    const fresh = await hs.pushTransaction("matrix-agent-bot", pushed?.events ?? [], { txnId: "a-new-txn" });
    expect(fresh.status).toBe(200);
    const app = bot.app;
    await expectSteady(() => waitForBotSettled(hs, { appserviceId: "matrix-agent-bot" }, app), () => expect(answers()).toHaveLength(1));
  });

  it("refuses a transaction with the wrong hs_token with the spec's 403 M_FORBIDDEN", async () => {
    const { hs, dataDir } = world;
    const port = await freePort();
    const reg = writeRegistration(dataDir, { port });
    hs.addAppservice(parse(readFileSync(reg.path, "utf8")));
    const bot = world.track(await new InProcessBot(appserviceEnv({ homeserverUrl: hs.url, registrationPath: reg.path, port, dataDir }),
      [reg.asToken, reg.hsToken]).start(), (b) => b.stop());
    const res = await hs.pushTransaction("matrix-agent-bot", [], { hsToken: "not-the-token" });
    expect(res.status).toBe(403);
    expect(JSON.stringify(res.body)).toContain("M_FORBIDDEN");
  });
});
