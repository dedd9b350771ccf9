// Contract: the double's cross-signing and key backup endpoints, as the spec and Synapse 1.67 answer them. Keys are
// real (made by crypto-wasm's OlmMachine), so the double's signature checks are exercised with real signatures.
import { startHomeserver, type Homeserver } from "../../support/homeserver";
import { MatrixTestUser } from "../../support/matrix-test-user";
import { createTrustHttp } from "../../../src/matrix/crypto/trust-http";
import { setUpCrossSigning, type CrossSigningMachine } from "../../../src/matrix/crypto/cross-signing";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const wasm = require("@matrix-org/matrix-sdk-crypto-wasm") as {
  OlmMachine: { initialize(u: unknown, d: unknown): Promise<CrossSigningMachine & { outgoingRequests(): Promise<Array<{ id: string; type: number; body: string }>> }> };
  UserId: new (id: string) => unknown;
  DeviceId: new (id: string) => unknown;
  RequestType: Record<string, number>;
};

type Json = Record<string, unknown>;

describe("homeserver double: cross-signing and key backup", () => {
  let hs: Homeserver;
  const PASSWORD = "correct horse";

  afterEach(async () => hs?.close());

  /** A password user with a real crypto device whose device keys are uploaded. */
  const deviceOf = async (localpart: string) => {
    const creds = hs.addUser(localpart, { password: PASSWORD });
    const user = new MatrixTestUser(hs.url, creds);
    const machine = await wasm.OlmMachine.initialize(new wasm.UserId(creds.userId), new wasm.DeviceId(creds.deviceId));
    for (const r of await machine.outgoingRequests()) {
      if (r.type !== wasm.RequestType["KeysUpload"]) continue;
      const answer = await user.call("POST", "keys/upload", { body: JSON.parse(r.body) });
      await machine.markRequestAsSent(r.id, r.type, JSON.stringify(answer));
    }
    const http = createTrustHttp({ homeserverUrl: hs.url, accessToken: creds.accessToken, timeoutMs: 5000 });
    return { creds, user, machine, http };
  };

  it("asks for user-interactive auth (401, flows, session) as Synapse 1.67, refuses a wrong password, takes the right one", async () => {
    hs = await startHomeserver();
    const bot = await deviceOf("bot");
    const requests = await bot.machine.bootstrapCrossSigning(true);
    const keys = JSON.parse(requests.uploadSigningKeysRequest.body) as Json;
    const first = await bot.http.post("/_matrix/client/v3/keys/device_signing/upload", keys);
    expect(first.status).toBe(401);
    expect(first.body).toMatchObject({ flows: [{ stages: ["m.login.password"] }], params: {}, session: expect.any(String) });
    const session = (first.body as { session: string }).session;
    const auth = (password: string) => ({ type: "m.login.password", identifier: { type: "m.id.user", user: bot.creds.userId }, password, session });
    const wrong = await bot.http.post("/_matrix/client/v3/keys/device_signing/upload", { ...keys, auth: auth("nope") });
    expect(wrong).toMatchObject({ status: 401, body: { errcode: "M_FORBIDDEN", session } });
    const right = await bot.http.post("/_matrix/client/v3/keys/device_signing/upload", { ...keys, auth: auth(PASSWORD) });
    expect(right.status).toBe(200);
    // The session is used up.
    expect((await bot.http.post("/_matrix/client/v3/keys/device_signing/upload", { ...keys, auth: auth(PASSWORD) })).status).toBe(400);
  });

  it("serves the keys in /keys/query (the user-signing key to its owner only) and the device signed by the self-signing key", async () => {
    hs = await startHomeserver();
    const bot = await deviceOf("bot");
    const alice = await deviceOf("alice");
    const outcome = await setUpCrossSigning(bot.machine, bot.http, { userId: bot.creds.userId, password: async () => PASSWORD });
    expect(outcome).toEqual({ status: "uploaded", withPassword: true });
    const query = { device_keys: { [bot.creds.userId]: [] } };
    const mine = await bot.user.call<Json>("POST", "keys/query", { body: query });
    const theirs = await alice.user.call<Json>("POST", "keys/query", { body: query });
    for (const field of ["master_keys", "self_signing_keys"]) {
      expect((theirs[field] as Json)[bot.creds.userId]).toMatchObject({ user_id: bot.creds.userId });
    }
    expect((mine["user_signing_keys"] as Json)[bot.creds.userId]).toMatchObject({ usage: ["user_signing"] });
    expect(theirs["user_signing_keys"]).toEqual({});
    const selfSigning = Object.values(((theirs["self_signing_keys"] as Json)[bot.creds.userId] as { keys: Json }).keys)[0] as string;
    const device = ((theirs["device_keys"] as Json)[bot.creds.userId] as Json)[bot.creds.deviceId] as { signatures: Record<string, Json> };
    expect(Object.keys(device.signatures[bot.creds.userId] ?? {})).toContain(`ed25519:${selfSigning}`);
  });

  it("refuses a device signature that does not verify, and keys that are not signed by the master key", async () => {
    hs = await startHomeserver();
    const bot = await deviceOf("bot");
    await setUpCrossSigning(bot.machine, bot.http, { userId: bot.creds.userId, password: async () => PASSWORD });
    const keys = await bot.user.call<Json>("POST", "keys/query", { body: { device_keys: { [bot.creds.userId]: [] } } });
    const device = structuredClone(((keys["device_keys"] as Json)[bot.creds.userId] as Json)[bot.creds.deviceId]) as Json & { signatures: Record<string, Json> };
    device["display_name"] = "tampered";
    const answer = await bot.http.post("/_matrix/client/v3/keys/signatures/upload", { [bot.creds.userId]: { [bot.creds.deviceId]: device } });
    expect(answer.body).toMatchObject({ failures: { [bot.creds.userId]: { [bot.creds.deviceId]: { errcode: "M_INVALID_SIGNATURE" } } } });
    const other = await deviceOf("other");
    const foreign = JSON.parse((await other.machine.bootstrapCrossSigning(true)).uploadSigningKeysRequest.body) as Json;
    const mixed = { master_key: JSON.parse((await bot.machine.bootstrapCrossSigning(true)).uploadSigningKeysRequest.body).master_key,
      self_signing_key: { ...(foreign["self_signing_key"] as Json), user_id: bot.creds.userId } };
    const first = await bot.http.post("/_matrix/client/v3/keys/device_signing/upload", mixed);
    const session = (first.body as { session: string }).session;
    const refused = await bot.http.post("/_matrix/client/v3/keys/device_signing/upload", { ...mixed,
      auth: { type: "m.login.password", identifier: { type: "m.id.user", user: bot.creds.userId }, password: PASSWORD, session } });
    expect(refused.status).toBe(400);
  });

  it("MSC3967: the first upload needs no auth, a replacement does", async () => {
    hs = await startHomeserver({ crossSigningFirstUploadWithoutAuth: true });
    const bot = await deviceOf("bot");
    expect(await setUpCrossSigning(bot.machine, bot.http, { userId: bot.creds.userId })).toEqual({ status: "uploaded", withPassword: false });
    const again = JSON.parse((await bot.machine.bootstrapCrossSigning(true)).uploadSigningKeysRequest.body) as Json;
    expect((await bot.http.post("/_matrix/client/v3/keys/device_signing/upload", again)).status).toBe(401);
  });

  it("an appservice user has no path on Synapse 1.67: 500, whatever the homeserver's MSC3967 setting", async () => {
    for (const msc3967 of [false, true]) {
      hs = await startHomeserver({ crossSigningFirstUploadWithoutAuth: msc3967 });
      hs.addAppservice({ id: "as", url: "http://127.0.0.1:1", as_token: "as-secret", hs_token: "hs-secret", sender_localpart: "agentbot",
        namespaces: { users: [{ exclusive: true, regex: "@agentbot.*:localhost" }] } });
      const http = createTrustHttp({ homeserverUrl: hs.url, accessToken: "as-secret", timeoutMs: 5000 });
      const answer = await http.post("/_matrix/client/v3/keys/device_signing/upload", { master_key: {} });
      expect(answer).toMatchObject({ status: 500, body: { errcode: "M_UNKNOWN" } });
      await hs.close();
    }
  });

  it("key backup: versions, keys kept when better, M_WRONG_ROOM_KEYS_VERSION for an old version", async () => {
    hs = await startHomeserver();
    const bot = await deviceOf("bot");
    expect(await bot.http.get("/_matrix/client/v3/room_keys/version")).toMatchObject({ status: 404, body: { errcode: "M_NOT_FOUND" } });
    const info = { algorithm: "m.megolm_backup.v1.curve25519-aes-sha2", auth_data: { public_key: "abc", signatures: {} } };
    const v1 = (await bot.http.post("/_matrix/client/v3/room_keys/version", info)).body as { version: string };
    const key = (index: number) => ({ first_message_index: index, forwarded_count: 0, is_verified: false, session_data: { ciphertext: `c${index}`, ephemeral: "e", mac: "m" } });
    const put = (version: string, index: number) =>
      bot.http.put("/_matrix/client/v3/room_keys/keys", { rooms: { "!r:localhost": { sessions: { s1: key(index) } } } }, { version });
    expect((await put(v1.version, 5)).body).toEqual({ count: 1, etag: "1" });
    expect((await put(v1.version, 9)).body).toEqual({ count: 1, etag: "1" }); // worse: the stored one stays
    expect((await put(v1.version, 0)).body).toEqual({ count: 1, etag: "2" });
    expect((await bot.http.get("/_matrix/client/v3/room_keys/keys", { version: v1.version })).body)
      .toEqual({ rooms: { "!r:localhost": { sessions: { s1: key(0) } } } });
    expect((await bot.http.get("/_matrix/client/v3/room_keys/version")).body).toMatchObject({ version: v1.version, count: 1, etag: "2", ...info });
    const v2 = (await bot.http.post("/_matrix/client/v3/room_keys/version", info)).body as { version: string };
    expect(await put(v1.version, 0)).toMatchObject({ status: 403, body: { errcode: "M_WRONG_ROOM_KEYS_VERSION", current_version: v2.version } });
  });

  it("deleting one's own device takes interactive auth, then its keys and tokens go", async () => {
    hs = await startHomeserver();
    const bot = await deviceOf("bot");
    const other = await MatrixTestUser.login(hs.url, "bot", PASSWORD);
    const first = await other.request("DELETE", `devices/${bot.creds.deviceId}`, { body: {} });
    expect(first.status).toBe(401);
    const session = (first.body as { session: string }).session;
    const done = await other.request("DELETE", `devices/${bot.creds.deviceId}`, { body: {
      auth: { type: "m.login.password", identifier: { type: "m.id.user", user: bot.creds.userId }, password: PASSWORD, session } } });
    expect(done.status).toBe(200);
    expect((await bot.user.request("GET", "account/whoami")).status).toBe(401);
    const keys = await other.call<Json>("POST", "keys/query", { body: { device_keys: { [bot.creds.userId]: [] } } });
    expect(Object.keys((keys["device_keys"] as Json)[bot.creds.userId] as Json)).not.toContain(bot.creds.deviceId);
  });
});
