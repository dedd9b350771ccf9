// What `npm run doctor` reports for MATRIX_E2EE=true: the crypto module loads, and the device's store on disk opens
// with CRYPTO_PASSPHRASE, or the fix when it does not. It only reads: nothing is created or locked.
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { inspectCrypto, cryptoStoreDir } from "../../../src/matrix/crypto/inspect";
import { writeSnapshotFile } from "../../../src/matrix/crypto/snapshot-file";

let dataDir: string;
beforeEach(() => { dataDir = mkdtempSync(path.join(tmpdir(), "crypto-inspect-")); });
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

async function writeStore(passphrase: string): Promise<void> {
  const dir = cryptoStoreDir(dataDir);
  mkdirSync(dir, { recursive: true });
  await writeSnapshotFile(path.join(dir, "crypto-store.snapshot"),
    { format: 1, databases: [{ name: "x::matrix-sdk-crypto", version: 1, stores: [] }] } as never, passphrase);
}

describe("inspectCrypto (doctor)", () => {
  it("loads the module and says a device will be set up when there is no store yet, without creating one", async () => {
    const result = await inspectCrypto(dataDir, "pw");
    expect(result).toMatchObject({ ok: true, detail: expect.stringMatching(/crypto module loads; no device yet/) });
    expect(readdirSync(dataDir)).toEqual([]);
  });

  it("opens an existing store with the right passphrase", async () => {
    await writeStore("right");
    expect(await inspectCrypto(dataDir, "right")).toMatchObject({ ok: true, detail: expect.stringMatching(/opens with CRYPTO_PASSPHRASE/) });
  });

  it("names a wrong passphrase and what to do, without quoting it", async () => {
    await writeStore("right");
    const result = await inspectCrypto(dataDir, "wrong-secret");
    expect(result.ok).toBe(false);
    expect(JSON.stringify(result)).toMatch(/CRYPTO_PASSPHRASE is wrong or the file is damaged/);
    expect(JSON.stringify(result)).not.toContain("wrong-secret");
    if (!result.ok) expect(result.fix).toMatch(/set the CRYPTO_PASSPHRASE the bot ran with/);
  });

  it("reports a crypto module that cannot load", async () => {
    const result = await inspectCrypto(dataDir, "pw", () => ({ isStub: true }));
    expect(result).toMatchObject({ ok: false, detail: expect.stringMatching(/does not load: the crypto package is a stand-in/) });
  });
});
