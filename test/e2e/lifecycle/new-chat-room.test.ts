// `/new [title]` logic (createChatRoom), with the real lifecycle, Matrix client, outbox and store against the
// homeserver double (the command itself is registered elsewhere and calls createChatRoom).
import pino from "pino";
import { loadConfig } from "../../../src/config";
import { createMatrixHttp } from "../../../src/matrix/http";
import { RoomDirectory } from "../../../src/matrix/room-directory";
import { routeSdkLogsInto } from "../../../src/matrix/sdk";
import { MatrixSender } from "../../../src/matrix/sender";
import { Outbox } from "../../../src/outbox";
import { ChatRoomError, installRoomLifecycle, type RoomLifecycle } from "../../../src/rooms/lifecycle";
import { openStore, type Store } from "../../../src/store";
import { botEnv } from "../../support/bot-harness";
import { startHomeserver, type Homeserver } from "../../support/homeserver";
import { introductions, provisionedRooms } from "./support";

describe("createChatRoom (/new)", () => {
  let hs: Homeserver;
  let store: Store;
  let outbox: Outbox;
  let sender: MatrixSender;
  let lifecycle: RoomLifecycle;
  let botUserId: string;
  let aliceId: string;

  beforeEach(async () => {
    hs = await startHomeserver({ serverName: "localhost" });
    const bot = hs.addUser("bot", { displayName: "Agent Bot" });
    botUserId = bot.userId;
    aliceId = hs.addUser("alice", { displayName: "Alice" }).userId;
    const log = pino({ level: "silent" });
    routeSdkLogsInto(log);
    const loaded = loadConfig(botEnv({ homeserverUrl: hs.url, accessToken: bot.accessToken, dataDir: "/tmp/unused", extra: { BOT_DISPLAY_NAME: "Helper" } }));
    if (!loaded.ok) throw new Error(loaded.message);
    const http = createMatrixHttp({ homeserverUrl: hs.url, accessToken: bot.accessToken, requestTimeoutMs: 5000 });
    store = await openStore("sqlite://:memory:", { logger: log });
    sender = new MatrixSender(http, { userId: botUserId, retryBaseMs: 10, retryMaxMs: 50, maxAttempts: 3, onTokenRejected: () => undefined }, log);
    outbox = new Outbox({ store, sender, log, concurrency: 2 });
    lifecycle = installRoomLifecycle({
      config: loaded.config, botUserId, http, directory: new RoomDirectory(http, botUserId, log), outbox, store, log,
      messages: { sendEvent: (r, t, c, x) => outbox.send(r, t, c, x), setTyping: async () => undefined, sendReadReceipt: async () => undefined },
      addObserver: () => undefined, options: { retryBaseMs: 5, retryMaxMs: 20 },
    });
    await lifecycle.start();
  });
  afterEach(async () => {
    await lifecycle.stop();
    await outbox.drain();
    sender.stop();
    await store.close();
    await hs.close();
  });

  it("adds a titled chat room to the user's space (provisioning it first), shared and introduced; once per request", async () => {
    const first = await lifecycle.createChatRoom(aliceId, "  Trip\nplanning  ", { requestId: "$cmd1" });
    expect(first.title).toBe("Trip planning");
    const [spaceId] = provisionedRooms(hs, aliceId, "space");
    expect(first.spaceId).toBe(spaceId);
    expect(hs.getState(first.roomId, "m.room.name")?.content["name"]).toBe("Trip planning");
    expect(hs.getState(spaceId ?? "", "m.space.child", first.roomId)?.content["via"]).toEqual(["localhost"]);
    expect(hs.getState(first.roomId, "m.space.parent", spaceId ?? "")?.content["canonical"]).toBe(true);
    expect(hs.membership(first.roomId, aliceId)).toBe("invite");
    await hs.waitFor(() => introductions(hs, first.roomId, botUserId).length === 1, { what: "the new room's introduction" });
    expect(String(introductions(hs, first.roomId, botUserId)[0]?.content["body"])).toContain("Trip planning");

    // The same request again (a command replayed after a crash): the same room.
    const replay = await lifecycle.createChatRoom(aliceId, "Trip planning", { requestId: "$cmd1" });
    expect(replay.roomId).toBe(first.roomId);
    // A second request: a second room, its own conversation; no title → the default.
    const second = await lifecycle.createChatRoom(aliceId, undefined, { requestId: "$cmd2" });
    expect(second.roomId).not.toBe(first.roomId);
    expect(second.spaceId).toBe(spaceId);
    expect(second.title).toBe("New chat");
    expect(provisionedRooms(hs, aliceId, "space")).toHaveLength(1);
    expect(provisionedRooms(hs, aliceId, "chat")).toHaveLength(3); // the provisioned one + two /new rooms
  });

  it("fails with a user-readable error when the homeserver refuses", async () => {
    hs.failNext({ method: "POST", pathIncludes: "/createRoom" }, { status: 403, errcode: "M_FORBIDDEN", error: "room creation disabled" }, 1);
    const failure = lifecycle.createChatRoom(aliceId, "x", { requestId: "$cmd3" });
    await expect(failure).rejects.toBeInstanceOf(ChatRoomError);
    await expect(failure).rejects.toMatchObject({ userMessage: expect.stringContaining("try again") });
  });
});
