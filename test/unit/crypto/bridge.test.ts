// The crypto-nodejs API subset that matrix-bot-sdk 0.7.1 calls, over crypto-wasm: two machines talk through a
// minimal in-memory key server using exactly the shapes RustEngine/CryptoClient read (JSON strings, txn_id,
// event_type, messages, Signatures.get(...)[key].isValid as a property, reused user-id arrays).
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-require-imports */
const b = require("@matrix-org/matrix-sdk-crypto-nodejs");

const ROOM = "!room:example.org";
type Json = Record<string, any>;

class KeyServer {
  devices: Json = {};
  otks: Json = {};
  inbox: Json = {};
  /** What RustEngine.run() does: every outgoing request answered, then markRequestAsSent. */
  async run(m: any, userId: string, deviceId: string): Promise<void> {
    for (const r of await m.outgoingRequests()) {
      const body = JSON.parse(r.body);
      let resp: Json = {};
      if (r.type === b.RequestType.KeysUpload) {
        if (body.device_keys) (this.devices[userId] ??= {})[deviceId] = body.device_keys;
        Object.assign((this.otks[`${userId}|${deviceId}`] ??= {}), body.one_time_keys ?? {});
        resp = { one_time_key_counts: { signed_curve25519: Object.keys(this.otks[`${userId}|${deviceId}`]).length } };
      } else if (r.type === b.RequestType.KeysQuery) {
        resp = { device_keys: Object.fromEntries(Object.keys(body.device_keys).map((u) => [u, this.devices[u] ?? {}])), failures: {} };
      } else if (r.type === b.RequestType.KeysClaim) {
        resp = this.claim(body);
      } else if (r.type === b.RequestType.ToDevice) {
        this.deliver(userId, body);
        await m.markRequestAsSent(body.txn_id, r.type, "{}"); // the SDK marks with txn_id
        continue;
      }
      await m.markRequestAsSent(r.id, r.type, JSON.stringify(resp));
    }
  }
  claim(body: Json): Json {
    const out: Json = {};
    for (const [u, devs] of Object.entries<Json>(body.one_time_keys)) for (const d of Object.keys(devs)) {
      const pool = this.otks[`${u}|${d}`] ?? {};
      const keyId = Object.keys(pool)[0];
      if (keyId) { ((out[u] ??= {})[d] = { [keyId]: pool[keyId] }); delete pool[keyId]; }
    }
    return { one_time_keys: out, failures: {} };
  }
  deliver(sender: string, req: { event_type: string; messages: Json }): void {
    expect(typeof req.event_type).toBe("string");
    for (const [u, devs] of Object.entries<Json>(req.messages)) for (const [d, content] of Object.entries(devs)) {
      (this.inbox[`${u}|${d}`] ??= []).push({ type: req.event_type, sender, content });
    }
  }
  take(userId: string, deviceId: string): Json[] {
    const events = this.inbox[`${userId}|${deviceId}`] ?? [];
    this.inbox[`${userId}|${deviceId}`] = [];
    return events;
  }
}

async function machine(userId: string, deviceId: string): Promise<any> {
  return b.OlmMachine.initialize(new b.UserId(userId), new b.DeviceId(deviceId), "", "", b.StoreType.Sqlite);
}

/** The bot's and Alice's devices, both with their keys on the server. */
async function botAndAlice(server: KeyServer): Promise<{ bot: any; alice: any }> {
  const bot = await machine("@bot:example.org", "BOT");
  const alice = await machine("@alice:example.org", "ALICE");
  await server.run(bot, "@bot:example.org", "BOT");
  await server.run(alice, "@alice:example.org", "ALICE");
  return { bot, alice };
}

describe("the crypto bridge", () => {
  it("lets a bot decrypt a peer's room message, with the SDK's own call shapes", async () => {
    const server = new KeyServer();
    const { bot, alice } = await botAndAlice(server);

    // Alice (as the SDK's prepareEncrypt does): track, query, claim, share with one reused UserId array.
    const members = [new b.UserId("@alice:example.org"), new b.UserId("@bot:example.org")];
    await alice.updateTrackedUsers(members);
    await server.run(alice, "@alice:example.org", "ALICE");
    const claim = await alice.getMissingSessions(members);
    expect(claim).toBeDefined();
    await alice.markRequestAsSent(claim.id, claim.type, JSON.stringify(server.claim(JSON.parse(claim.body))));
    const settings = new b.EncryptionSettings();
    settings.algorithm = undefined; // what the SDK assigns for an unknown algorithm
    settings.rotationPeriod = BigInt(604800000); // ms, as the SDK sets it
    const shared = JSON.parse(await alice.shareRoomKey(new b.RoomId(ROOM), members, settings));
    expect(shared.length).toBeGreaterThan(0);
    for (const req of shared) server.deliver("@alice:example.org", req);
    const content = JSON.parse(await alice.encryptRoomEvent(new b.RoomId(ROOM), "m.room.message", JSON.stringify({ msgtype: "m.text", body: "hello bot" })));
    expect(content.algorithm).toBe("m.megolm.v1.aes-sha2");

    // The bot (as CryptoClient.updateSyncData does): to-device JSON, DeviceLists, counts object, fallback array.
    const toDevice = await bot.receiveSyncChanges(JSON.stringify(server.take("@bot:example.org", "BOT")),
      new b.DeviceLists([new b.UserId("@alice:example.org")], []), { signed_curve25519: 49 }, ["signed_curve25519"]);
    expect(JSON.parse(toDevice).map((e: Json) => e.type)).toContain("m.room_key");
    const event = { type: "m.room.encrypted", event_id: "$e1", sender: "@alice:example.org", origin_server_ts: 1, room_id: ROOM, content };
    const decrypted = await bot.decryptRoomEvent(JSON.stringify(event), new b.RoomId(ROOM)); // alice is unverified
    expect(JSON.parse(decrypted.event).content.body).toBe("hello bot");
    bot.close();
    alice.close();
  });

  it("signs with a valid signature the SDK can read", async () => {
    const bot = await machine("@bot:example.org", "BOT");
    const sigs = (await bot.sign(JSON.stringify({ a: 1 }))).get(new b.UserId("@bot:example.org"));
    const entry = sigs["ed25519:BOT"];
    expect(entry.isValid).toBe(true);
    expect(entry.signature.toBase64()).toMatch(/^[A-Za-z0-9+/]+$/);
    bot.close();
  });

  it("never continues a stored outbound session in a new instance: no Megolm message index is used twice", async () => {
    require("fake-indexeddb/auto");
    const store = `bridge-test-${process.pid}-${Date.now()}`;
    const me = [new b.UserId("@bot:example.org")];
    const open = () => b.OlmMachine.initialize(new b.UserId("@bot:example.org"), new b.DeviceId("BOT"), store, "");
    const send = async (m: any): Promise<{ session: string; index: number }> => {
      await m.shareRoomKey(new b.RoomId(ROOM), me, new b.EncryptionSettings());
      const c = JSON.parse(await m.encryptRoomEvent(new b.RoomId(ROOM), "m.room.message", JSON.stringify({ body: "x" })));
      return { session: c.session_id, index: Buffer.from(c.ciphertext, "base64")[2] ?? -1 };
    };
    const first = await open();
    const before = [await send(first), await send(first)];
    expect(before.map((x) => x.index)).toEqual([0, 1]);
    expect(before[1]?.session).toBe(before[0]?.session); // one instance keeps its session
    first.close();
    const second = await open(); // e.g. after a restart from a snapshot that may lag behind what was sent
    const after = await send(second);
    expect(after.session).not.toBe(before[0]?.session);
    expect(after.index).toBe(0);
    second.close();
  });

  it("saves (the write-ahead hook) before it hands out room keys encrypted by Olm, and fails the share if saving fails", async () => {
    const server = new KeyServer();
    const { bot, alice } = await botAndAlice(server);
    const members = [new b.UserId("@alice:example.org")];
    await bot.updateTrackedUsers(members);
    await server.run(bot, "@bot:example.org", "BOT");
    const claim = await bot.getMissingSessions(members);
    await bot.markRequestAsSent(claim.id, claim.type, JSON.stringify(server.claim(JSON.parse(claim.body))));
    const events: string[] = [];
    try {
      b.setBeforeToDeviceSend(async () => {
        throw new Error("disk full");
      });
      await expect(bot.shareRoomKey(new b.RoomId(ROOM), members, new b.EncryptionSettings())).rejects.toThrow(/disk full/);
      b.setBeforeToDeviceSend(async () => {
        await new Promise((r) => setTimeout(r, 20));
        events.push("saved");
      });
      const shared = bot.shareRoomKey(new b.RoomId(ROOM), members, new b.EncryptionSettings()).then((json: string) => {
        events.push("handed out");
        return JSON.parse(json);
      });
      expect((await shared).length).toBeGreaterThan(0);
      expect(events).toEqual(["saved", "handed out"]);
      // Alice decrypts the room key it carries (the failed attempt left nothing half-sent).
      for (const req of await shared) server.deliver("@bot:example.org", req);
      const toDevice = await alice.receiveSyncChanges(JSON.stringify(server.take("@alice:example.org", "ALICE")),
        new b.DeviceLists([], []), { signed_curve25519: 49 }, []);
      expect(JSON.parse(toDevice).map((e: Json) => e.type)).toContain("m.room_key");
    } finally {
      b.setBeforeToDeviceSend(undefined);
      bot.close();
      alice.close();
    }
  });

  // Room key requests: crypto-wasm 18.9 requests missing keys only from the bot's own other devices, and only when
  // one of them is verified (a bot has none), so it sends none; see runbook/encryption.md.
  it("turns an undecryptable event into an Error with a code, never a raw WASM object", async () => {
    const server = new KeyServer();
    const { bot, alice } = await botAndAlice(server);
    const onlyAlice = [new b.UserId("@alice:example.org")];
    await alice.updateTrackedUsers(onlyAlice);
    await server.run(alice, "@alice:example.org", "ALICE");
    for (const req of JSON.parse(await alice.shareRoomKey(new b.RoomId(ROOM), onlyAlice, new b.EncryptionSettings()))) server.deliver("@alice:example.org", req);
    const content = JSON.parse(await alice.encryptRoomEvent(new b.RoomId(ROOM), "m.room.message", JSON.stringify({ msgtype: "m.text", body: "not for you" })));
    const event = { type: "m.room.encrypted", event_id: "$e2", sender: "@alice:example.org", origin_server_ts: 1, room_id: ROOM, content };

    const failure = await bot.decryptRoomEvent(JSON.stringify(event), new b.RoomId(ROOM)).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(Error);
    expect(String(failure)).toMatch(/decryptRoomEvent failed/);
    expect((failure as { code?: unknown }).code).toBeDefined();
    bot.close();
    alice.close();
  });
});
