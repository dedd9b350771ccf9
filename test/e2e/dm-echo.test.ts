// The first real turn through real wires: a person writes in a DM, the bot (client mode) relays it over a
// WebSocket to the echo agent, and the answer appears in the room. Homeserver double over HTTP on 127.0.0.1.
import { startHomeserver, type Homeserver } from "../support/homeserver";
import { MatrixTestUser } from "../support/matrix-test-user";
import { botEnv, ChildBot, InProcessBot, makeDataDir, removeDir, type RunningBot } from "../support/bot-harness";
import { echoReplyFor } from "../../src/reference-agent/server";
import { botMessagesIn } from "../support/bot-messages";
import { expectSteady, waitForBotSettled } from "../support/bot-idle";
import { describeEachE2eBackend, freshStore, type BackendName, type TestStore } from "../support/backends";

interface World {
  hs: Homeserver;
  bot: { userId: string; accessToken: string };
  alice: MatrixTestUser;
  dataDir: string;
  store: TestStore;
}

async function world(backend: BackendName): Promise<World> {
  const hs = await startHomeserver({ serverName: "localhost" });
  const bot = hs.addUser("bot", { displayName: "Agent Bot" });
  const aliceAccount = hs.addUser("alice", { displayName: "Alice" });
  const alice = new MatrixTestUser(hs.url, aliceAccount);
  const dataDir = makeDataDir();
  return { hs, bot, alice, dataDir, store: await freshStore(backend, dataDir) };
}

/** The bot's environment in the world: client mode, its store on the world's backend. */
function envOf(w: World): Record<string, string> {
  return botEnv({ homeserverUrl: w.hs.url, accessToken: w.bot.accessToken, dataDir: w.dataDir, extra: { STORE_URL: w.store.url } });
}

async function openDm(w: World): Promise<string> {
  const { room_id: roomId } = await w.alice.createRoom({ is_direct: true, invite: [w.bot.userId], preset: "trusted_private_chat" });
  await w.hs.waitFor(() => w.hs.sent({ roomId, type: "m.room.member" }).some(
    (e) => e.state_key === w.bot.userId && e.content["membership"] === "join"), { what: "the bot joins the DM" });
  return roomId;
}

async function answerIn(w: World, roomId: string, after: number): Promise<{ body: string; eventId: string }> {
  const reply = await w.hs.waitFor(() => botMessagesIn(w.hs, roomId, w.bot.userId)
    .filter((e) => (e.origin_server_ts ?? 0) >= after).find((e) => e.content["msgtype"] === "m.text"), { what: "the bot's answer" });
  return { body: String(reply.content["body"]), eventId: reply.event_id };
}

describeEachE2eBackend("a DM turn in client mode", (backend) => {
  let w: World;
  let bot: RunningBot | undefined;

  beforeEach(async () => {
    w = await world(backend);
  });
  afterEach(async () => {
    await bot?.stop();
    bot = undefined;
    await w.hs.close();
    removeDir(w.dataDir);
    await w.store.drop();
  });

  it("answers a message with the agent's reply, with typing on during the turn and off at its end", async () => {
    bot = await new InProcessBot(envOf(w)).start();
    const roomId = await openDm(w);
    const start = w.hs.now();
    const asked = await w.alice.sendText(roomId, "hello bot");

    const answer = await answerIn(w, roomId, start);
    expect(answer.body).toBe(echoReplyFor("hello bot"));

    const typing = w.hs.typing.filter((t) => t.roomId === roomId && t.userId === w.bot.userId);
    expect(typing[0]?.typing).toBe(true);
    await w.hs.waitFor(() => w.hs.typing.filter((t) => t.roomId === roomId && t.userId === w.bot.userId).at(-1)?.typing === false,
      { what: "typing turned off at the end of the turn" });
    expect(w.hs.receipts.some((r) => r.roomId === roomId && r.userId === w.bot.userId && r.eventId === asked)).toBe(true);
    // A DM answer is plain: no reply relation, and it pings nobody.
    const event = w.hs.sent({ roomId, sender: w.bot.userId }).find((e) => e.event_id === answer.eventId);
    expect(event?.content["m.relates_to"]).toBeUndefined();
    expect(event?.content["m.mentions"]).toEqual({ user_ids: [] });
  });

  it("works the same from the built bot running as its own process", async () => {
    const child = new ChildBot(envOf(w));
    bot = child;
    await child.ready();
    const roomId = await openDm(w);
    const start = w.hs.now();
    await w.alice.sendText(roomId, "ping from a child process");
    const answer = await answerIn(w, roomId, start);
    expect(answer.body).toBe(echoReplyFor("ping from a child process"));
    await child.stop();
    expect(await child.exited).toEqual({ code: 0, signal: null });
  });

  it("answers each message once, even when several arrive quickly", async () => {
    const inProcess = await new InProcessBot(envOf(w)).start();
    bot = inProcess;
    const roomId = await openDm(w);
    const start = w.hs.now();
    await w.alice.sendText(roomId, "one");
    await w.hs.waitFor(() => botMessagesIn(w.hs, roomId, w.bot.userId)
      .filter((e) => (e.origin_server_ts ?? 0) >= start).length >= 1, { what: "first answer" });
    await w.alice.sendText(roomId, "two");
    await w.hs.waitFor(() => botMessagesIn(w.hs, roomId, w.bot.userId)
      .filter((e) => (e.origin_server_ts ?? 0) >= start).length >= 2, { what: "second answer" });
    await expectSteady(() => waitForBotSettled(w.hs, { syncUserId: w.bot.userId }, inProcess.app), () => {
      const bodies = botMessagesIn(w.hs, roomId, w.bot.userId)
        .filter((e) => (e.origin_server_ts ?? 0) >= start).map((e) => e.content["body"]);
      expect(bodies).toEqual([echoReplyFor("one"), echoReplyFor("two")]);
    });
  });
});
