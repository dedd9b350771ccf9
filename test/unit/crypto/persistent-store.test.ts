// The crypto store survives a restart through its encrypted snapshot file; one process per store.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pino from "pino";
import { LOCK_FILE, PersistentCryptoStore, SNAPSHOT_FILE } from "../../../src/matrix/crypto/persistent-store";
import { StoreLockedError } from "../../../src/matrix/crypto/store-lock";
import { waitFor } from "../../support/wait";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const bridge = require("@matrix-org/matrix-sdk-crypto-nodejs");
const log = pino({ level: "silent" });

let dir: string;
beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), "crypto-store-")); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function openMachine(passphrase = "correct horse") {
  const store = await PersistentCryptoStore.open({ dir, storeName: path.join(dir, "olm"), passphrase, debounceMs: 5, maxDelayMs: 20 }, log);
  const machine = await bridge.OlmMachine.initialize(new bridge.UserId("@bot:example.org"), new bridge.DeviceId("BOTDEVICE"), path.join(dir, "olm"), "", 0);
  return { store, machine };
}

describe("the persistent crypto store", () => {
  it("keeps the device identity and uploaded keys across a restart, in a file that reveals nothing", async () => {
    const first = await openMachine();
    const identity = first.machine.identityKeys.curve25519.toBase64();
    const upload = (await first.machine.outgoingRequests()).find((r: { type: number }) => r.type === bridge.RequestType.KeysUpload);
    expect(upload).toBeDefined();
    await first.machine.markRequestAsSent(upload.id, upload.type, JSON.stringify({ one_time_key_counts: { signed_curve25519: 50 } }));
    first.machine.close();
    await first.store.close();

    const file = readFileSync(path.join(dir, SNAPSHOT_FILE));
    expect(file.includes(Buffer.from("@bot:example.org"))).toBe(false);
    expect(file.includes(Buffer.from("BOTDEVICE"))).toBe(false);
    expect(readdirSync(dir).sort()).toEqual([SNAPSHOT_FILE]); // no temp file, lock released

    const second = await openMachine();
    expect(second.machine.identityKeys.curve25519.toBase64()).toBe(identity);
    const again = (await second.machine.outgoingRequests()).filter((r: { type: number }) => r.type === bridge.RequestType.KeysUpload);
    expect(again).toEqual([]); // keys were uploaded once; not again
    second.machine.close();
    await second.store.close();
  });

  it("refuses a wrong CRYPTO_PASSPHRASE with a clear message", async () => {
    const first = await openMachine();
    first.machine.close();
    await first.store.close();
    await expect(openMachine("wrong")).rejects.toThrow(/CRYPTO_PASSPHRASE/);
    expect(readdirSync(dir)).not.toContain(LOCK_FILE); // the failed open released its lock
  });

  it("saves changes by itself within the debounce bound, without an explicit flush", async () => {
    const { store, machine } = await openMachine();
    const file = path.join(dir, SNAPSHOT_FILE);
    await waitFor(() => readdirSync(dir).includes(SNAPSHOT_FILE), { what: "the snapshot saved" });
    expect(readFileSync(file).length).toBeGreaterThan(0);
    machine.close();
    await store.close();
  });

  it("allows one process per store, and takes over the lock of a process that is gone", async () => {
    const { store, machine } = await openMachine();
    await expect(PersistentCryptoStore.open({ dir, storeName: "x", passphrase: "p" }, log)).rejects.toBeInstanceOf(StoreLockedError);
    machine.close();
    await store.close();

    writeFileSync(path.join(dir, LOCK_FILE), "999999999\n"); // a SIGKILLed process's lock
    const again = await openMachine();
    expect(readFileSync(path.join(dir, LOCK_FILE), "utf8").trim()).toBe(String(process.pid));
    again.machine.close();
    await again.store.close();
  });
});
