// startCrypto's pieces wired the way the composition root wires them: the real ClientSync with the crypto sync
// hook, the real MatrixSender wrapped by the encrypting sender, against the homeserver double and an
// encrypting peer. Encrypted messages arrive as clear m.room.message events with their own event ids; replies
// into encrypted rooms leave encrypted (same txnId); unencrypted rooms stay plain; undecryptable stays encrypted.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Keyv from "keyv";
import { ClientSync } from "../../../src/matrix/client-sync";
import { EncryptedRoomNotice } from "../../../src/rooms/encrypted-notice";
import { startCrypto, UNDECRYPTABLE_NOTICE, type CryptoRuntime } from "../../../src/matrix/crypto";
import type { InboundItem, RoomEvent } from "../../../src/matrix/events";
import { createMatrixHttp } from "../../../src/matrix/http";
import { MatrixSender } from "../../../src/matrix/sender";
import { CryptoPeer } from "../../support/crypto-peer";
import { startHomeserver, type Homeserver } from "../../support/homeserver";
import { ENCRYPTION, log } from "./support";

describe("startCrypto wired into sync and sending", () => {
  let hs: Homeserver;
  let alice: CryptoPeer;
  let crypto: CryptoRuntime | undefined;
  let sync: ClientSync | undefined;

  beforeEach(async () => {
    hs = await startHomeserver();
    alice = new CryptoPeer(hs.url, hs.addUser("alice"));
  });
  afterEach(async () => {
    await sync?.stop();
    await crypto?.stop();
    alice.close();
    await hs.close();
  });

  it("decrypts into clear events, answers encrypted in encrypted rooms and plain elsewhere, keeps the undecryptable", async () => {
    const botCreds = hs.addUser("bot");
    const secret = hs.createRoom(alice.userId, { invite: [botCreds.userId], initialState: [ENCRYPTION] });
    const plain = hs.createRoom(alice.userId, { invite: [botCreds.userId] });
    hs.join(botCreds.userId, secret);
    hs.join(botCreds.userId, plain);
    const http = createMatrixHttp({ homeserverUrl: hs.url, accessToken: botCreds.accessToken, requestTimeoutMs: 5000 });
    crypto = await startCrypto({ homeserverUrl: hs.url, accessToken: botCreds.accessToken, dataDir: mkdtempSync(path.join(tmpdir(), "mab-start-crypto-")),
      passphrase: "pw", http, log });
    const seen: RoomEvent[] = [];
    const saved: string[] = [];
    sync = new ClientSync(http, { load: async () => undefined, save: async (t) => void saved.push(t) }, {
      userId: botCreds.userId, syncTimeoutMs: 200, requestTimeoutMs: 5000, retryBaseMs: 10, retryMaxMs: 50, gapFillMaxEvents: 10,
      isKnown: async () => false, onTokenRejected: () => undefined, crypto: crypto.syncHook,
      onBatch: async (items: InboundItem[]) => {
        for (const i of items) if (i.kind === "event" && i.event.sender === alice.userId && i.event.state_key === undefined) seen.push(i.event);
      },
    }, log);
    await sync.start();

    await alice.start();
    await alice.sync();
    const eventId = await alice.sendEncrypted(secret, { msgtype: "m.text", body: "hello bot" });
    const unreadable = await alice.sendEncrypted(secret, { msgtype: "m.text", body: "not for you" }, { only: [alice.userId] });
    await hs.waitFor(() => seen.length >= 2 || undefined, { what: "both messages", timeoutMs: 10_000 });
    expect(seen[0]).toMatchObject({ event_id: eventId, type: "m.room.message", content: { body: "hello bot" } });
    expect(seen[1]).toMatchObject({ event_id: unreadable, type: "m.room.encrypted" });

    const sender = crypto.wrapSender(new MatrixSender(http, { userId: botCreds.userId, retryBaseMs: 10, retryMaxMs: 50, maxAttempts: 3, onTokenRejected: () => undefined }, log));
    const content = { msgtype: "m.text", body: "hello alice", "m.relates_to": { rel_type: "m.thread", event_id: eventId } };
    expect((await sender.sendEvent(secret, "m.room.message", content, "txn-secret-1")).ok).toBe(true);
    expect((await sender.sendEvent(plain, "m.room.message", { msgtype: "m.text", body: "plain" }, "txn-plain-1")).ok).toBe(true);
    const fromBot = (await alice.sync()).filter((e) => e.sender === botCreds.userId && e.state_key === undefined);
    const inSecret = fromBot.filter((e) => e.room_id === secret);
    expect(inSecret.map((e) => e.type)).toEqual(["m.room.encrypted"]);
    expect(inSecret[0]?.content["m.relates_to"]).toEqual({ rel_type: "m.thread", event_id: eventId });
    expect(await alice.decrypt(inSecret[0]!)).toMatchObject({ body: "hello alice" });
    expect(fromBot.filter((e) => e.room_id === plain)).toEqual([expect.objectContaining({ type: "m.room.message", content: expect.objectContaining({ body: "plain" }) })]);
    expect(saved.length).toBeGreaterThan(0);

    // The undecryptable message: one notice per room (however many arrive), itself encrypted.
    const notice = new EncryptedRoomNotice(new Keyv<number>(), sender, log, crypto.undecryptableNotice);
    await notice.onUnreadable(secret);
    await notice.onUnreadable(secret);
    const notices = (await alice.sync()).filter((e) => e.sender === botCreds.userId && e.room_id === secret && e.state_key === undefined);
    expect(notices.map((e) => e.type)).toEqual(["m.room.encrypted"]);
    expect(await alice.decrypt(notices[0]!)).toMatchObject({ msgtype: "m.notice", body: UNDECRYPTABLE_NOTICE });
  });
});
