// End-to-end encryption in appservice mode, as a person with a real encrypting client sees it: matrix-js-sdk 34 with
// its Rust crypto (a child process, test/support/js-sdk-peer) and the built bot (a child process, MATRIX_E2EE=true,
// appservice mode) against the homeserver double, which pushes the bot's room keys in transactions. Asserted on what
// the homeserver stored (the bot never puts plaintext into an encrypted room), on what the person's client decrypts,
// and on the transactions the double recorded. The tests of each describe run in order on one world.
import { echoReplyFor } from "../../src/reference-agent/server";
import { UNDECRYPTABLE_NOTICE } from "../../src/matrix/crypto";
import { EncryptedAppserviceWorld, WAIT_MS } from "../support/appservice-e2ee-world";
import { scaled } from "../support/wait";

jest.setTimeout(scaled(120_000));

describe("appservice mode, encrypted, Synapse 1.67's transaction fields and m.login.application_service", () => {
  const world = new EncryptedAppserviceWorld();
  let dm: string;

  beforeAll(async () => {
    await world.start({ fields: "synapse-1.67" });
    await world.startBot();
  });
  afterAll(() => world.stop());

  it("answers an encrypted DM encrypted, with a device made by appservice login and used by masquerading", async () => {
    const { alice, hs } = world;
    dm = await world.encryptedRoomWithBot({ isDirect: true });
    await alice.send(dm, "hello in secret");
    const answer = await world.answerIn(dm, echoReplyFor("hello in secret"), "the decrypted answer");
    expect(answer).toMatchObject({ wireType: "m.room.encrypted", encrypted: true, decryptionFailure: false });
    expect(world.botEventTypes(dm)).not.toContain("m.room.message"); // its introduction was encrypted too
    // One device, made by m.login.application_service, its keys uploaded through the as_token acting as it.
    const devices = Object.keys(await world.botDeviceKeys());
    expect(devices).toHaveLength(1);
    expect(hs.requests.filter((r) => r.path === "/_matrix/client/v3/login" && r.status === 200)).toHaveLength(1);
    expect(hs.requests.some((r) => r.path.endsWith("/keys/upload") && r.query["org.matrix.msc3202.device_id"]?.[0] === devices[0])).toBe(true);
    // The room key came in a transaction, under Synapse 1.67's name.
    expect(world.acknowledgedKeyTransactions("de.sorunome.msc2409.to_device").length).toBeGreaterThan(0);
  });

  it("has no cross-signing on Synapse 1.67: the upload is refused for the as_token (500), the bot says so and goes on", async () => {
    const uploads = world.hs.requests.filter((r) => r.path === "/_matrix/client/v3/keys/device_signing/upload");
    expect(uploads.map((r) => r.status)).toEqual([500]);
    expect(world.bot.logs.lines().filter((l) => /no way to upload cross-signing keys/.test(l.msg ?? ""))).toHaveLength(1);
  });

  it("fans a proactive message out into every opted-in encrypted room, encrypted", async () => {
    const { alice } = world;
    const agent = world.agent!;
    const group = await world.encryptedRoomWithBot(); // a group room: Alice made it, so she may opt it in
    await alice.send(dm, "!proactive on");
    await alice.waitMessages(dm, (ms) => world.fromBot(ms).length >= 2, "the opt-in confirmation", WAIT_MS);
    await alice.send(group, "!proactive on");
    await alice.waitMessages(group, (ms) => world.fromBot(ms).length >= 1, "the opt-in confirmation in the group", WAIT_MS);
    await agent.emitProactive("*", "Encrypted digest: all quiet.");
    for (const room of [dm, group]) {
      const digest = await world.answerIn(room, "Encrypted digest: all quiet.", "the proactive message, decrypted");
      expect(digest).toMatchObject({ wireType: "m.room.encrypted", decryptionFailure: false });
      expect(world.botEventTypes(room)).not.toContain("m.room.message");
    }
  });

  it("keeps a room key it acknowledged: SIGKILLed right after the 200, it still answers the next message", async () => {
    const { alice } = world;
    await world.bot.stop();
    const keysBefore = await world.botDeviceKeys();
    const crashing = await world.startBot({ MAB_TEST_CRASH_AT: "room-key-acknowledged" });
    const acknowledgedBefore = world.acknowledgedKeyTransactions("de.sorunome.msc2409.to_device").length;
    // A new room: Alice's client makes a new room key and sends it to the bot's device.
    const room = await world.encryptedRoomWithBot();
    await alice.send(room, "first secret");
    expect(await crashing.exited).toEqual({ code: null, signal: "SIGKILL" });
    // The transaction that carried the key was answered 200 before the kill: the homeserver will not send it again.
    expect(world.acknowledgedKeyTransactions("de.sorunome.msc2409.to_device").length).toBeGreaterThan(acknowledgedBefore);

    await world.startBot();
    await alice.send(room, "second secret"); // same room key (Alice's session does not rotate)
    await world.answerIn(room, echoReplyFor("first secret"), "the answer to the message of the crash");
    const answer = await world.answerIn(room, echoReplyFor("second secret"), "the answer after the restart");
    expect(answer).toMatchObject({ wireType: "m.room.encrypted", decryptionFailure: false });
    expect(world.fromBot(await alice.messages(room)).filter((m) => m.content["body"] === echoReplyFor("first secret"))).toHaveLength(1);
    expect(await world.botDeviceKeys()).toEqual(keysBefore); // the same device and identity key
    expect(world.botEventTypes(room)).not.toContain("m.room.message");
  });

  it("posts one notice, encrypted, for messages it cannot decrypt, and reads the room again once it gets keys", async () => {
    const { alice } = world;
    await alice.onlyVerifiedDevices(true); // the bot's device is not verified: Alice's client withholds its room keys
    const room = await world.encryptedRoomWithBot();
    await alice.send(room, "withheld one");
    await alice.send(room, "withheld two");
    const notice = await world.answerIn(room, UNDECRYPTABLE_NOTICE, "the notice");
    expect(notice).toMatchObject({ wireType: "m.room.encrypted", decryptionFailure: false });
    await world.hs.waitFor(() => world.bot.logs.lines().filter((l) => l.msg === "crypto: decrypt failed").length >= 2,
      { what: "both failures seen", timeoutMs: WAIT_MS });
    await alice.onlyVerifiedDevices(false);
    await alice.send(room, "shared three");
    await world.answerIn(room, echoReplyFor("shared three"), "the answer once the bot has the key");
    expect(world.fromBot(await alice.messages(room)).filter((m) => m.content["body"] === UNDECRYPTABLE_NOTICE)).toHaveLength(1);
    expect(world.botEventTypes(room)).not.toContain("m.room.message");
  });
});

describe("appservice mode, encrypted, stable transaction fields and an MSC4190 device (no appservice login, as under MAS)", () => {
  const world = new EncryptedAppserviceWorld();

  beforeAll(async () => {
    await world.start({ fields: "stable", deviceManagement: true, login: false });
    await world.startBot();
  });
  afterAll(() => world.stop());

  it("makes its device with PUT /devices, answers an encrypted DM and keeps answering after a restart", async () => {
    const { alice, hs } = world;
    const devices = Object.keys(await world.botDeviceKeys());
    expect(devices).toHaveLength(1);
    expect(hs.requests.filter((r) => r.method === "PUT" && r.path === `/_matrix/client/v3/devices/${devices[0]}` && r.status === 201)).toHaveLength(1);
    expect(hs.requests.filter((r) => r.path === "/_matrix/client/v3/login")).toEqual([]);
    const dm = await world.encryptedRoomWithBot({ isDirect: true });
    await alice.send(dm, "stable hello");
    await world.answerIn(dm, echoReplyFor("stable hello"), "the decrypted answer");
    expect(world.acknowledgedKeyTransactions("to_device").length).toBeGreaterThan(0);

    await world.bot.stop();
    await world.startBot();
    await alice.send(dm, "stable again");
    const answer = await world.answerIn(dm, echoReplyFor("stable again"), "the answer after the restart");
    expect(answer).toMatchObject({ wireType: "m.room.encrypted", decryptionFailure: false });
    expect(Object.keys(await world.botDeviceKeys())).toEqual(devices);
    expect(world.botEventTypes(dm)).not.toContain("m.room.message");
  });
});
