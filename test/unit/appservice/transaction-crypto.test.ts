// Transactions with encryption (MATRIX_E2EE=true in appservice mode): the device is fed before the events are
// decrypted and journaled, its store is saved before the 200 (a failed save answers 500 and the retry feeds it
// again), a transaction answered 200 is not fed twice, and a reused id with other to-device messages is.
import type { TransactionCrypto } from "../../../src/matrix/appservice-crypto";
import type { RoomEvent } from "../../../src/matrix/events";
import { AppserviceFixture, BOT, HS_TOKEN, expectNoSecretIn, message } from "./support";

const DEVICE = "MABDEVICE";

/** A crypto hook that records every call in order; decrypts `m.room.encrypted` whose ciphertext is "plain:<text>". */
class RecordingCrypto implements TransactionCrypto {
  readonly calls: string[] = [];
  roomKeys = 0;
  failSave = false;
  readonly device = { userId: BOT, deviceId: DEVICE };
  readonly hook = {
    beforeBatch: async (res: unknown): Promise<void> => {
      const events = (res as { to_device?: { events?: Array<{ type: string }> } }).to_device?.events ?? [];
      if (events.some((e) => e.type === "m.room_key")) this.roomKeys += 1;
      this.calls.push(`feed ${JSON.stringify(res)}`);
    },
    onStateEvent: async (event: RoomEvent): Promise<void> => void this.calls.push(`state ${event.type}`),
    decrypt: async (event: RoomEvent): Promise<RoomEvent | "undecryptable"> => {
      this.calls.push(`decrypt ${event.event_id}`);
      const text = String(event.content["ciphertext"] ?? "");
      return text.startsWith("plain:") ? { ...event, type: "m.room.message", content: { msgtype: "m.text", body: text.slice(6) } } : "undecryptable";
    },
    afterBatch: async (): Promise<void> => {
      this.calls.push("save");
      if (this.failSave) throw new Error("disk full");
    },
  };
  roomKeysReceived(): number {
    return this.roomKeys;
  }
}

async function waitFor(probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error("timed out waiting for the transaction record");
    await new Promise((r) => setTimeout(r, 10));
  }
}

const toDevice = (type: string, n: number, to = DEVICE): Record<string, unknown> =>
  ({ to_user_id: BOT, to_device_id: to, type, sender: "@alice:example.org", content: { n } });
const encrypted = (eventId: string, ciphertext: string): Record<string, unknown> => ({
  ...message(eventId, ""), type: "m.room.encrypted", content: { algorithm: "m.megolm.v1.aes-sha2", ciphertext },
});

describe("appservice server: transactions with encryption", () => {
  let as: AppserviceFixture;
  let crypto: RecordingCrypto;

  beforeEach(async () => {
    crypto = new RecordingCrypto();
    as = await new AppserviceFixture({ crypto }).start();
    as.behaviour = async () => void crypto.calls.push("journal");
  });
  afterEach(async () => {
    expectNoSecretIn(as.logLines, HS_TOKEN);
    await as.close();
  });

  it("feeds the device, then tracks room state and decrypts in order, journals the clear events, saves the store, answers 200", async () => {
    const body = {
      events: [{ ...message("$s:example.org", ""), type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } },
        encrypted("$e1:example.org", "plain:hello"), encrypted("$e2:example.org", "no key")],
      "de.sorunome.msc2409.to_device": [toDevice("m.room.encrypted", 1), toDevice("m.room.encrypted", 2, "SOMEONE_ELSE")],
      "org.matrix.msc3202.device_one_time_key_counts": { [BOT]: { [DEVICE]: { signed_curve25519: 3 } } },
    };
    expect(await as.put("t1", body)).toEqual({ status: 200, body: {} });
    expect(crypto.calls).toEqual([
      `feed ${JSON.stringify({ to_device: { events: [{ type: "m.room.encrypted", sender: "@alice:example.org", content: { n: 1 } }] },
        device_one_time_keys_count: { signed_curve25519: 3 } })}`,
      "state m.room.encryption", "decrypt $e1:example.org", "decrypt $e2:example.org", "journal", "save",
    ]);
    const events = as.items.flatMap((i) => (i.kind === "event" ? [i.event] : []));
    expect(events.map((e) => [e.event_id, e.type, e.content["body"]])).toEqual([
      ["$s:example.org", "m.room.encryption", undefined], ["$e1:example.org", "m.room.message", "hello"], ["$e2:example.org", "m.room.encrypted", undefined],
    ]);
  });

  it("answers 500 when the crypto store cannot be saved, and feeds the retry again", async () => {
    crypto.failSave = true;
    const body = { events: [], "de.sorunome.msc2409.to_device": [toDevice("m.room_key", 1)] };
    expect((await as.put("t-save", body)).status).toBe(500);
    crypto.failSave = false;
    expect((await as.put("t-save", body)).status).toBe(200);
    expect(crypto.calls.filter((c) => c.startsWith("feed"))).toHaveLength(2);
    expect(crypto.calls.filter((c) => c === "save")).toHaveLength(2);
  });

  it("does not feed a transaction answered 200 again (a retry whose answer was lost), even with no events", async () => {
    const body = { events: [], "de.sorunome.msc2409.to_device": [toDevice("m.room_key", 1)] };
    expect((await as.put("t-once", body)).status).toBe(200);
    expect((await as.put("t-once", body)).status).toBe(200);
    await as.restart();
    expect((await as.put("t-once", body)).status).toBe(200);
    expect(crypto.calls.filter((c) => c.startsWith("feed"))).toHaveLength(1);
  });

  it("feeds a reused transaction id that brings other to-device messages (Synapse renumbering after its restart)", async () => {
    expect((await as.put("1", { events: [], "de.sorunome.msc2409.to_device": [toDevice("m.room_key", 1)] })).status).toBe(200);
    expect((await as.put("1", { events: [], "de.sorunome.msc2409.to_device": [toDevice("m.room_key", 2)] })).status).toBe(200);
    expect(crypto.calls.filter((c) => c.startsWith("feed"))).toHaveLength(2);
  });

  it("leaves the device alone when nothing in the transaction is for it, and keeps a record only of one that fed it", async () => {
    await as.close();
    as = await new AppserviceFixture({ crypto, onBatch: async () => ({ journaled: 0 }) }).start(); // as for strangers' events
    const body = { events: [], "de.sorunome.msc2409.ephemeral": [], "de.sorunome.msc2409.to_device": [toDevice("m.room_key", 1, "OTHER")],
      "org.matrix.msc3202.device_one_time_key_counts": { "@agentbot_x:example.org": { X: {} } } };
    expect((await as.put("t-none", body)).status).toBe(200);
    expect(crypto.calls).toEqual(["save"]);
    expect(await as.store.namespace("appservice-txn").get("t-none")).toBeUndefined();
    // One that fed the device is recorded though no event was journaled: a retry must not feed it again.
    expect((await as.put("t-mine", { events: [], "de.sorunome.msc2409.to_device": [toDevice("m.room_key", 2)] })).status).toBe(200);
    await waitFor(async () => (await as.store.namespace("appservice-txn").get("t-mine")) !== undefined);
  });
});
