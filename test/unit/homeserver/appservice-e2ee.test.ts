// Contract: encrypted appservices from the homeserver side. Devices through m.login.application_service or MSC4190's
// PUT /devices/{id}; device masquerading (MSC3202's org.matrix.msc3202.device_id, MSC4326's device_id); transactions
// carrying to-device messages (MSC2409 as Synapse 1.67 names them / MSC4203), device-list changes, one-time key
// counts and unused fallback key types (MSC3202), with Synapse 1.67's opt-ins and shapes.
import { startHomeserver, type AppserviceE2eeOptions, type AppserviceRegistration, type Homeserver, type JsonObject } from "../../support/homeserver";
import { MatrixTestUser } from "../../support/matrix-test-user";
import { FakeAppservice } from "./fake-appservice";

const ENCRYPTION_FLAGS = { "de.sorunome.msc2409.push_ephemeral": true, receive_ephemeral: true, "org.matrix.msc3202": true } as const;

const registration = (url: string, flags: Partial<AppserviceRegistration> = ENCRYPTION_FLAGS): AppserviceRegistration => ({
  id: "crypto-bridge", url, as_token: "as-secret", hs_token: "hs-secret", sender_localpart: "agentbot",
  namespaces: { users: [{ exclusive: true, regex: "@agentbot_.*:localhost" }] }, ...flags,
});

/** Device keys as a client uploads them (the double keeps them as given). */
const deviceKeys = (userId: string, deviceId: string): JsonObject => ({
  user_id: userId, device_id: deviceId, algorithms: ["m.olm.v1.curve25519-aes-sha2"],
  keys: { [`curve25519:${deviceId}`]: "c", [`ed25519:${deviceId}`]: "e" }, signatures: {},
});

describe("homeserver double: encrypted appservices", () => {
  let hs: Homeserver;
  let as: FakeAppservice;
  let alice: MatrixTestUser;
  let bot: MatrixTestUser;

  const start = async (e2ee?: AppserviceE2eeOptions, flags?: Partial<AppserviceRegistration>): Promise<void> => {
    hs = await startHomeserver({ txnRetryMs: 20, ...(e2ee ? { appserviceE2ee: e2ee } : {}) });
    as = await new FakeAppservice().start();
    alice = new MatrixTestUser(hs.url, hs.addUser("alice"));
    const { senderUserId } = hs.addAppservice(registration(as.url, flags));
    bot = new MatrixTestUser(hs.url, { userId: senderUserId, accessToken: "as-secret" });
  };
  afterEach(async () => {
    await hs?.close();
    await as?.stop();
  });

  /** A device for the bot through m.login.application_service, with keys uploaded while masquerading as it. */
  const botDevice = async (deviceId: string, oneTimeKeys = 0, param = "org.matrix.msc3202.device_id"): Promise<void> => {
    await bot.call("POST", "login", { body: { type: "m.login.application_service", identifier: { type: "m.id.user", user: bot.userId }, device_id: deviceId } });
    const one_time_keys = Object.fromEntries(Array.from({ length: oneTimeKeys }, (_, i) => [`signed_curve25519:K${i}`, { key: `k${i}` }]));
    await bot.call("POST", "keys/upload", { query: { [param]: deviceId }, body: { device_keys: deviceKeys(bot.userId, deviceId), one_time_keys } });
  };

  it("creates a device with m.login.application_service and masquerades as it; an unknown device is refused as Synapse 1.67 does", async () => {
    await start();
    const login = await bot.call<{ device_id: string; user_id: string }>("POST", "login",
      { body: { type: "m.login.application_service", identifier: { type: "m.id.user", user: bot.userId }, device_id: "BOTDEV" } });
    expect(login).toMatchObject({ user_id: bot.userId, device_id: "BOTDEV" });
    expect(await bot.call("GET", "account/whoami", { query: { "org.matrix.msc3202.device_id": "BOTDEV" } }))
      .toEqual({ user_id: bot.userId, is_guest: false, device_id: "BOTDEV" });
    expect(await bot.call("GET", "account/whoami")).toEqual({ user_id: bot.userId, is_guest: false });
    // Synapse 1.67 knows only the unstable parameter: `device_id` is ignored.
    expect(await bot.call("GET", "account/whoami", { query: { device_id: "BOTDEV" } })).toEqual({ user_id: bot.userId, is_guest: false });
    const unknown = await bot.request("GET", "account/whoami", { query: { "org.matrix.msc3202.device_id": "NOPE" } });
    expect(unknown).toMatchObject({ status: 400, body: { errcode: "M_EXCLUSIVE" } });
    // A user's own token ignores the parameter (only appservices masquerade).
    expect(await alice.call("GET", "account/whoami", { query: { "org.matrix.msc3202.device_id": "BOTDEV" } }))
      .not.toMatchObject({ device_id: "BOTDEV" });
    // keys/upload needs a device: with the masquerade it lands on BOTDEV.
    await bot.call("POST", "keys/upload", { query: { "org.matrix.msc3202.device_id": "BOTDEV" }, body: { device_keys: deviceKeys(bot.userId, "BOTDEV") } });
    const query = await alice.call<{ device_keys: Record<string, JsonObject> }>("POST", "keys/query", { body: { device_keys: { [bot.userId]: [] } } });
    expect(Object.keys(query.device_keys[bot.userId] ?? {})).toEqual(["BOTDEV"]);
    expect(await bot.request("POST", "keys/upload", { body: { one_time_keys: {} } })).toMatchObject({ status: 400 });
  });

  it("without masquerading support, ignores the device parameter (as Synapse with its flag off)", async () => {
    await start({ deviceMasquerading: false });
    await bot.call("POST", "login", { body: { type: "m.login.application_service", identifier: { type: "m.id.user", user: bot.userId }, device_id: "BOTDEV" } });
    expect(await bot.call("GET", "account/whoami", { query: { "org.matrix.msc3202.device_id": "BOTDEV" } })).toEqual({ user_id: bot.userId, is_guest: false });
  });

  it("MSC4190: an appservice creates its devices with PUT /devices/{id} (201, then 200), lists and deletes them; people cannot", async () => {
    await start({ fields: "stable", deviceManagement: true, login: false });
    expect(await bot.request("PUT", "devices/NEWDEV", { body: { display_name: "Agent Bot" } })).toMatchObject({ status: 201 });
    expect(await bot.request("PUT", "devices/NEWDEV", { body: { display_name: "Agent Bot" } })).toMatchObject({ status: 200 });
    expect(await bot.call("GET", "devices")).toEqual({ devices: [{ device_id: "NEWDEV", display_name: "Agent Bot" }] });
    expect(await bot.call("GET", "account/whoami", { query: { device_id: "NEWDEV" } })).toEqual({ user_id: bot.userId, is_guest: false, device_id: "NEWDEV" });
    expect(await bot.call("GET", "account/whoami", { query: { "org.matrix.msc3202.device_id": "NEWDEV" } })).toMatchObject({ device_id: "NEWDEV" });
    expect(await bot.request("GET", "account/whoami", { query: { device_id: "GONE" } })).toMatchObject({ status: 400, body: { errcode: "M_UNKNOWN_DEVICE" } });
    // As under MAS: no appservice login.
    const login = await bot.request("POST", "login", { body: { type: "m.login.application_service", identifier: { type: "m.id.user", user: bot.userId } } });
    expect(login).toMatchObject({ status: 400, body: { errcode: "M_APPSERVICE_LOGIN_UNSUPPORTED" } });
    expect(await alice.request("PUT", "devices/ALICENEW", { body: {} })).toMatchObject({ status: 404 });
    expect(await alice.request("DELETE", "devices/ALICENEW")).toMatchObject({ status: 401 });
    expect(await bot.request("DELETE", "devices/NEWDEV")).toMatchObject({ status: 200 });
    expect(await bot.call("GET", "devices")).toEqual({ devices: [] });
  });

  it("Synapse 1.67 has no MSC4190: PUT /devices/{unknown} is 404 M_NOT_FOUND, as for a person", async () => {
    await start();
    expect(await bot.request("PUT", "devices/NEWDEV", { body: {} })).toMatchObject({ status: 404, body: { errcode: "M_NOT_FOUND" } });
  });

  it("pushes to-device messages for the bot's device with Synapse 1.67's names, with key counts per device", async () => {
    await start();
    await botDevice("BOTDEV", 2);
    await alice.call("PUT", "sendToDevice/m.room.encrypted/t1", { body: { messages: { [bot.userId]: { BOTDEV: { algorithm: "m.olm.v1.curve25519-aes-sha2", ciphertext: {} } } } } });
    await hs.waitFor(() => as.values("de.sorunome.msc2409.to_device").some((v) => Array.isArray(v) && v.length > 0), { what: "the to-device push" });
    const body = as.received.find((b) => (b.body["de.sorunome.msc2409.to_device"] as unknown[]).length > 0)?.body ?? {};
    expect(body["de.sorunome.msc2409.to_device"]).toEqual([{ to_user_id: bot.userId, to_device_id: "BOTDEV", type: "m.room.encrypted",
      sender: alice.userId, content: { algorithm: "m.olm.v1.curve25519-aes-sha2", ciphertext: {} } }]);
    expect(body["de.sorunome.msc2409.ephemeral"]).toEqual([]);
    expect(body["events"]).toEqual([]);
    expect(body["org.matrix.msc3202.device_one_time_key_counts"]).toEqual({ [bot.userId]: { BOTDEV: { signed_curve25519: 2 } } });
    expect(body["org.matrix.msc3202.device_unused_fallback_key_types"]).toEqual({ [bot.userId]: { BOTDEV: [] } });
    expect(body["to_device"]).toBeUndefined();
    // A device whose one-time keys are all claimed is listed with an empty object (Synapse's LEFT JOIN).
    await alice.call("POST", "keys/claim", { body: { one_time_keys: { [bot.userId]: { BOTDEV: "signed_curve25519" } } } });
    await alice.call("POST", "keys/claim", { body: { one_time_keys: { [bot.userId]: { BOTDEV: "signed_curve25519" } } } });
    await alice.call("PUT", "sendToDevice/m.room.encrypted/t2", { body: { messages: { [bot.userId]: { BOTDEV: { n: 2 } } } } });
    await hs.waitFor(() => as.received.length >= 3 && hs.appserviceIdle("crypto-bridge"), { what: "the second to-device push" });
    expect(as.received.at(-1)?.body["org.matrix.msc3202.device_one_time_key_counts"]).toEqual({ [bot.userId]: { BOTDEV: {} } });
  });

  it("sends device-list changes of people who share a room with the bot, and nobody else's", async () => {
    await start();
    await botDevice("BOTDEV");
    const carol = new MatrixTestUser(hs.url, hs.addUser("carol"));
    const roomId = hs.createRoom(alice.userId, { invite: [bot.userId] });
    await bot.call("POST", `join/${encodeURIComponent(roomId)}`, { body: {} });
    await carol.call("POST", "keys/upload", { body: { device_keys: deviceKeys(carol.userId, "X") } });
    await alice.call("POST", "keys/upload", { body: { device_keys: deviceKeys(alice.userId, "Y") } });
    await hs.waitFor(() => as.values("org.matrix.msc3202.device_lists").length > 0 && hs.appserviceIdle("crypto-bridge"), { what: "device lists" });
    const changed = as.values("org.matrix.msc3202.device_lists").flatMap((v) => (v as { changed: string[] }).changed);
    expect(changed).toContain(alice.userId);
    expect(changed).toContain(bot.userId); // its own upload
    expect(changed).not.toContain(carol.userId);
  });

  it("keeps to-device messages and key state out of a registration without the opt-ins (Synapse 1.67)", async () => {
    await start(undefined, {});
    await botDevice("BOTDEV", 1);
    const roomId = hs.createRoom(alice.userId, { invite: [bot.userId] });
    await bot.call("POST", `join/${encodeURIComponent(roomId)}`, { body: {} }); // joined: the room's events concern it (invited is not enough)
    await alice.call("PUT", "sendToDevice/m.room.encrypted/t1", { body: { messages: { [bot.userId]: { BOTDEV: { n: 1 } } } } });
    hs.sendEvent(alice.userId, roomId, "m.room.message", { body: "after" });
    await hs.waitFor(() => as.received.some((b) => JSON.stringify(b.body["events"]).includes("after")), { what: "the event push" });
    for (const { body } of as.received) expect(Object.keys(body)).toEqual(["events"]);
  });

  it("with stable names: to_device, device_lists, device_one_time_keys_count, device_unused_fallback_key_types, no opt-in needed", async () => {
    await start({ fields: "stable", deviceManagement: true }, {});
    await bot.call("PUT", "devices/BOTDEV", { body: {} });
    await bot.call("POST", "keys/upload", { query: { device_id: "BOTDEV" }, body: { device_keys: deviceKeys(bot.userId, "BOTDEV"),
      one_time_keys: { "signed_curve25519:A": { key: "a" } }, fallback_keys: { "signed_curve25519:F": { key: "f", fallback: true } } } });
    await alice.call("PUT", "sendToDevice/m.room_key_request/t1", { body: { messages: { [bot.userId]: { "*": { action: "request" } } } } });
    await hs.waitFor(() => as.values("to_device").length > 0 && hs.appserviceIdle("crypto-bridge"), { what: "the to-device push" });
    const body = as.received.find((b) => b.body["to_device"] !== undefined)?.body ?? {};
    expect(body["to_device"]).toEqual([{ to_user_id: bot.userId, to_device_id: "BOTDEV", type: "m.room_key_request", sender: alice.userId, content: { action: "request" } }]);
    expect(body["device_one_time_keys_count"]).toEqual({ [bot.userId]: { BOTDEV: { signed_curve25519: 1 } } });
    expect(body["device_unused_fallback_key_types"]).toEqual({ [bot.userId]: { BOTDEV: ["signed_curve25519"] } });
    expect(Object.keys(body).filter((k) => k.includes("msc"))).toEqual([]);
    expect(as.values("device_lists").flatMap((v) => (v as { changed: string[] }).changed)).toContain(bot.userId);
  });

  it("retries a transaction with the same body, to-device messages included", async () => {
    await start();
    await botDevice("BOTDEV");
    await hs.waitFor(() => hs.appserviceIdle("crypto-bridge"), { what: "the device-list push of the bot's own keys" });
    as.statuses.push(500);
    await alice.call("PUT", "sendToDevice/m.room.encrypted/t1", { body: { messages: { [bot.userId]: { BOTDEV: { n: 1 } } } } });
    await hs.waitFor(() => hs.transactions.filter((t) => t.status === 200).length >= 2, { what: "the retry to succeed" });
    const [failed, retried] = as.received.slice(-2);
    expect(retried?.txnId).toBe(failed?.txnId);
    expect(retried?.body).toEqual(failed?.body);
    expect(hs.transactions.at(-1)?.extras?.["de.sorunome.msc2409.to_device"]).toHaveLength(1);
  });
});
