// Client mode keeps its first sync token even when that first /sync brought nothing (no room yet): history from
// before the bot's first start is not answered, so a start without it would take a message sent while the bot was
// down for history and never answer it. (A later sync that brings nothing, typing or receipts only, saves no token.)
import pino from "pino";
import { useLoopbackWorld } from "../support/loopback-world";
import { botEnv, InProcessBot } from "../support/bot-harness";
import { botMessagesIn } from "../support/bot-messages";
import { echoReplyFor, startReferenceAgent } from "../../src/reference-agent/server";

describe("client mode's first sync token", () => {
  const world = useLoopbackWorld();

  it("is kept from a first start with no room: a message sent while the bot was down is answered after its restart", async () => {
    const { hs, dataDir } = world;
    const agent = world.track(await startReferenceAgent({ host: "127.0.0.1", port: 0, logger: pino({ level: "silent" }) }), (a) => a.close());
    const botUser = hs.addUser("agentbot");
    const alice = hs.addUser("alice");
    const env = botEnv({ homeserverUrl: hs.url, accessToken: botUser.accessToken, dataDir, extra: { AGENT_URL: agent.url } });
    const first = await new InProcessBot(env).start(); // its first /sync: no room, nothing in it
    await first.stop();

    const roomId = hs.createRoom(alice.userId, { invite: [botUser.userId] });
    hs.join(botUser.userId, roomId);
    hs.sendEvent(alice.userId, roomId, "m.room.message", { msgtype: "m.text", body: "sent while you were away" });

    world.track(await new InProcessBot(env).start(), (b) => b.stop());
    const answers = (): unknown[] => botMessagesIn(hs, roomId, botUser.userId).map((e) => e.content["body"])
      .filter((body) => body === echoReplyFor("sent while you were away"));
    await hs.waitFor(() => answers().length > 0, { what: "the answer after the restart", timeoutMs: 30_000 });
    expect(answers()).toHaveLength(1);
  });
});
