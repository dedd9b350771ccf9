// Contract: the E2EE key endpoints (keys/upload, keys/query, keys/claim, sendToDevice) and the to_device,
// device_lists and device_one_time_keys_count sections of /sync, as the Client-Server spec describes them.
import { startHomeserver, type Homeserver } from "../../support/homeserver";
import { MatrixTestUser } from "../../support/matrix-test-user";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe("homeserver double: E2EE keys", () => {
  let hs: Homeserver;
  let alice: MatrixTestUser;
  let bob: MatrixTestUser;
  let aliceDevice: string;
  let bobDevice: string;

  beforeEach(async () => {
    hs = await startHomeserver();
    const a = hs.addUser("alice");
    const b = hs.addUser("bob");
    alice = new MatrixTestUser(hs.url, a);
    bob = new MatrixTestUser(hs.url, b);
    aliceDevice = a.deviceId;
    bobDevice = b.deviceId;
  });
  afterEach(() => hs.close());

  const deviceKeys = (userId: string, deviceId: string): Json => ({
    user_id: userId, device_id: deviceId, algorithms: ["m.megolm.v1.aes-sha2"], keys: { [`ed25519:${deviceId}`]: "k" }, signatures: {},
  });

  it("uploads device and one-time keys, counts them, answers queries and hands each one-time key out once", async () => {
    const up = await bob.call<Json>("POST", "keys/upload", {
      body: { device_keys: deviceKeys(bob.userId, bobDevice), one_time_keys: { "signed_curve25519:A": { key: "a" }, "signed_curve25519:B": { key: "b" } } },
    });
    expect(up["one_time_key_counts"]).toMatchObject({ signed_curve25519: 2 });
    const query = await alice.call<Json>("POST", "keys/query", { body: { device_keys: { [bob.userId]: [] } } });
    expect(query["device_keys"][bob.userId][bobDevice]).toMatchObject({ device_id: bobDevice });
    const claim = () => alice.call<Json>("POST", "keys/claim", { body: { one_time_keys: { [bob.userId]: { [bobDevice]: "signed_curve25519" } } } });
    const first = Object.keys((await claim())["one_time_keys"][bob.userId][bobDevice]);
    const second = Object.keys((await claim())["one_time_keys"][bob.userId][bobDevice]);
    expect(new Set([...first, ...second]).size).toBe(2);
    expect((await claim())["one_time_keys"]).toEqual({});
    const sync = (await bob.sync()) as Json;
    expect(sync["device_one_time_keys_count"]).toMatchObject({ signed_curve25519: 0 });
  });

  it("hands out the fallback key when one-time keys ran out, and reports it used", async () => {
    await bob.call<Json>("POST", "keys/upload", { body: { device_keys: deviceKeys(bob.userId, bobDevice), fallback_keys: { "signed_curve25519:F": { key: "f", fallback: true } } } });
    expect(((await bob.sync()) as Json)["device_unused_fallback_key_types"]).toEqual(["signed_curve25519"]);
    const claimed = await alice.call<Json>("POST", "keys/claim", { body: { one_time_keys: { [bob.userId]: { [bobDevice]: "signed_curve25519" } } } });
    expect(claimed["one_time_keys"][bob.userId][bobDevice]).toEqual({ "signed_curve25519:F": { key: "f", fallback: true } });
    expect(((await bob.sync()) as Json)["device_unused_fallback_key_types"]).toEqual([]);
  });

  it("delivers to-device messages in /sync until the next token acknowledges them; a repeated txnId is sent once", async () => {
    const since = (await bob.sync()).next_batch;
    const parked = bob.sync({ since, timeout: 5000 });
    for (let i = 0; i < 2; i += 1) {
      await alice.call<Json>("PUT", "sendToDevice/m.test/t1", { body: { messages: { [bob.userId]: { [bobDevice]: { n: 1 } } } } });
    }
    const got = (await parked) as Json;
    expect(got["to_device"].events).toEqual([{ type: "m.test", sender: alice.userId, content: { n: 1 } }]);
    expect(((await bob.sync({ since })) as Json)["to_device"].events).toHaveLength(1); // not acknowledged yet: replayed
    expect(((await bob.sync({ since: got.next_batch })) as Json)["to_device"].events).toEqual([]);
    expect(aliceDevice).not.toBe(bobDevice);
  });

  it("holds back to-device messages for a device on request (a late room key) and delivers them on release", async () => {
    const since = (await bob.sync()).next_batch;
    hs.holdToDevice(bob.userId, bobDevice);
    await alice.call<Json>("PUT", "sendToDevice/m.room.encrypted/t1", { body: { messages: { [bob.userId]: { [bobDevice]: { n: 1 } } } } });
    await alice.call<Json>("PUT", "sendToDevice/m.test/t2", { body: { messages: { [alice.userId]: { [aliceDevice]: { n: 2 } } } } });
    const held = (await bob.sync({ since })) as Json;
    expect(held["to_device"].events).toEqual([]);
    expect(hs.heldToDevice(bob.userId)).toEqual(["m.room.encrypted"]);
    expect(((await alice.sync()) as Json)["to_device"].events).toEqual([{ type: "m.test", sender: alice.userId, content: { n: 2 } }]);

    const parked = bob.sync({ since: held.next_batch, timeout: 5000 });
    expect(hs.releaseToDevice(bob.userId, bobDevice)).toBe(1);
    expect(((await parked) as Json)["to_device"].events).toEqual([{ type: "m.room.encrypted", sender: alice.userId, content: { n: 1 } }]);
    expect(hs.heldToDevice(bob.userId)).toEqual([]);
  });

  it("lists a room member's device-key change in device_lists.changed", async () => {
    const roomId = hs.createRoom(alice.userId, { invite: [bob.userId] });
    hs.join(bob.userId, roomId);
    const since = (await alice.sync()).next_batch;
    await bob.call<Json>("POST", "keys/upload", { body: { device_keys: deviceKeys(bob.userId, bobDevice) } });
    const sync = (await alice.sync({ since })) as Json;
    expect(sync["device_lists"].changed).toContain(bob.userId);
    expect(((await alice.sync({ since: sync.next_batch })) as Json)["device_lists"].changed).toEqual([]);
  });

  it("answers the reads an encrypting client makes at start: no key backup, an empty push rule set", async () => {
    const backup = await alice.request("GET", "room_keys/version");
    expect([backup.status, (backup.body as Json)["errcode"]]).toEqual([404, "M_NOT_FOUND"]);
    expect(await alice.call<Json>("GET", "pushrules/")).toEqual({ global: { override: [], content: [], room: [], sender: [], underride: [] } });
  });
});
