// The bot's crypto session against the homeserver double and an encrypting peer: reads an encrypted message,
// answers encrypted, keeps its device (same keys, sessions) across a restart from the encrypted snapshot.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { CryptoSession } from "../../../src/matrix/crypto/session";
import { CryptoPeer } from "../../support/crypto-peer";
import { startHomeserver, type Homeserver } from "../../support/homeserver";
import { ENCRYPTION, log } from "./support";
import { MatrixTestUser } from "../../support/matrix-test-user";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe("crypto session", () => {
  let hs: Homeserver;
  let alice: CryptoPeer;
  let bot: MatrixTestUser;
  let botCreds: { userId: string; accessToken: string; deviceId: string };
  let roomId: string;
  let dataDir: string;
  let since: string | undefined;
  const sessions: CryptoSession[] = [];

  beforeEach(async () => {
    hs = await startHomeserver();
    botCreds = hs.addUser("bot");
    bot = new MatrixTestUser(hs.url, botCreds);
    alice = new CryptoPeer(hs.url, hs.addUser("alice"));
    roomId = hs.createRoom(alice.userId, { invite: [bot.userId], initialState: [ENCRYPTION] });
    hs.join(bot.userId, roomId);
    dataDir = mkdtempSync(path.join(tmpdir(), "mab-crypto-session-"));
    since = undefined;
  });
  afterEach(async () => {
    for (const s of sessions.splice(0)) await s.stop();
    alice.close();
    await hs.close();
  });

  const open = async (): Promise<CryptoSession> => {
    const s = await CryptoSession.open({ homeserverUrl: hs.url, accessToken: botCreds.accessToken, dataDir, passphrase: "pw", joinedRoomIds: [roomId] }, log);
    sessions.push(s);
    return s;
  };
  /** One bot /sync through the session; returns the clear bodies of the encrypted timeline events. */
  const botSync = async (s: CryptoSession): Promise<Array<string | undefined>> => {
    const res = (await bot.sync(since !== undefined ? { since } : {})) as Json;
    since = res["next_batch"];
    await s.beforeBatch(res);
    const bodies: Array<string | undefined> = [];
    for (const e of (res["rooms"]?.join?.[roomId]?.timeline?.events ?? []) as Json[]) {
      if (e["type"] !== "m.room.encrypted") continue;
      bodies.push((await s.decrypt(roomId, { ...e, room_id: roomId }))?.content["body"] as string | undefined);
    }
    await s.afterBatch();
    return bodies;
  };
  const botDevices = async (): Promise<string[]> =>
    Object.keys((await alice.user.call<Json>("POST", "keys/query", { body: { device_keys: { [bot.userId]: [] } } }))["device_keys"][bot.userId]);

  it("uploads its device keys, reads an encrypted message and answers encrypted", async () => {
    const session = await open();
    expect(await botDevices()).toEqual([botCreds.deviceId]);
    expect(await session.isEncrypted(roomId)).toBe(true);
    await botSync(session);
    await alice.start();
    await alice.sync();
    await alice.sendEncrypted(roomId, { msgtype: "m.text", body: "hello bot" });
    expect(await botSync(session)).toEqual(["hello bot"]);

    const content = await session.encrypt(roomId, "m.room.message", { msgtype: "m.text", body: "hello alice" });
    expect(content["algorithm"]).toBe("m.megolm.v1.aes-sha2");
    await bot.send(roomId, "m.room.encrypted", content);
    const events = (await alice.sync()).filter((e) => e.type === "m.room.encrypted" && e.sender === bot.userId);
    expect(await Promise.all(events.map((e) => alice.decrypt(e)))).toEqual([expect.objectContaining({ body: "hello alice" })]);
  });

  it("keeps its device across a restart: same device, no new keys, the conversation continues both ways", async () => {
    let session = await open();
    await botSync(session);
    await alice.start();
    await alice.sync();
    await alice.sendEncrypted(roomId, { msgtype: "m.text", body: "before" });
    expect(await botSync(session)).toEqual(["before"]);
    await session.stop();
    sessions.splice(0);

    session = await open();
    expect(await botDevices()).toEqual([botCreds.deviceId]);
    await alice.sendEncrypted(roomId, { msgtype: "m.text", body: "after" });
    expect(await botSync(session)).toEqual(["after"]);
    const content = await session.encrypt(roomId, "m.room.message", { msgtype: "m.text", body: "still here" });
    await bot.send(roomId, "m.room.encrypted", content);
    const events = (await alice.sync()).filter((e) => e.type === "m.room.encrypted" && e.sender === bot.userId);
    expect((await alice.decrypt(events.at(-1)!))?.["body"]).toBe("still here");
  });

  it("takes the same to-device messages twice without harm (a crash between the save and the token or the 200)", async () => {
    const session = await open();
    await botSync(session);
    await alice.start();
    await alice.sync();
    await alice.sendEncrypted(roomId, { msgtype: "m.text", body: "once" });
    const res = (await bot.sync({ ...(since !== undefined ? { since } : {}) })) as Json;
    since = res["next_batch"];
    expect(res["to_device"].events).toHaveLength(1);
    await session.beforeBatch(res);
    await session.beforeBatch(res); // the homeserver sent the batch again
    const event = (res["rooms"].join[roomId].timeline.events as Json[]).find((e) => e["type"] === "m.room.encrypted");
    expect((await session.decrypt(roomId, { ...event, room_id: roomId }))?.content["body"]).toBe("once");
    await alice.sendEncrypted(roomId, { msgtype: "m.text", body: "and on" });
    expect(await botSync(session)).toEqual(["and on"]);
    // No Olm session was re-made: the bot sent no to-device message of its own (no "unwedging" m.dummy).
    expect(hs.requests.filter((r) => r.userId === bot.userId && r.path.includes("/sendToDevice/"))).toEqual([]);
  });

  it("answers undefined, never throws, for a message whose key it never got", async () => {
    const session = await open();
    await botSync(session);
    await alice.start();
    await alice.sync();
    await alice.sendEncrypted(roomId, { msgtype: "m.text", body: "secret" }, { only: [alice.userId] });
    expect(await botSync(session)).toEqual([undefined]);
  });
});
