// What `npm run doctor` says about end-to-end encryption (MATRIX_E2EE=true): the crypto bridge and its WASM load,
// and the device's store on disk opens with CRYPTO_PASSPHRASE. Reads only: never creates, changes or locks the store.
import path from "node:path";
import { SNAPSHOT_FILE } from "./persistent-store";
import { recordCount } from "./idb-snapshot";
import { readSnapshotFile, SnapshotFileError } from "./snapshot-file";

export type CryptoInspection = { ok: true; detail: string } | { ok: false; detail: string; fix: string };

interface BridgeModule {
  isStub?: unknown;
  wasm?: () => { UserId: new (id: string) => { free(): void } };
}

/** The crypto store directory of a DATA_DIR (as CryptoSession opens it). */
export function cryptoStoreDir(dataDir: string): string {
  return path.join(dataDir, "crypto");
}

export async function inspectCrypto(dataDir: string, passphrase: string, load: () => unknown = defaultLoad): Promise<CryptoInspection> {
  try {
    const bridge = load() as BridgeModule;
    if (bridge.isStub === true || typeof bridge.wasm !== "function") throw new Error("the crypto package is a stand-in");
    new (bridge.wasm().UserId)("@doctor:localhost").free(); // loads and runs the WASM
  } catch (e) {
    return { ok: false, detail: `the crypto module does not load: ${firstLine(e)}`,
      fix: "reinstall with `npm ci` (it needs @matrix-org/matrix-sdk-crypto-wasm from the npm registry), or set MATRIX_E2EE=false" };
  }
  const file = path.join(cryptoStoreDir(dataDir), SNAPSHOT_FILE);
  try {
    const snapshot = await readSnapshotFile(file, passphrase);
    if (!snapshot) return { ok: true, detail: `crypto module loads; no device yet (${file}): the bot sets one up at its first start` };
    return { ok: true, detail: `crypto module loads; the device's store opens with CRYPTO_PASSPHRASE (${recordCount(snapshot)} records)` };
  } catch (e) {
    const text = e instanceof SnapshotFileError ? e.userText : firstLine(e);
    return { ok: false, detail: `${file}: ${text}`,
      fix: "set the CRYPTO_PASSPHRASE the bot ran with; if it is lost, delete that file (and only then) so the bot sets up a new " +
        "device, whose keys cannot read earlier encrypted messages" };
  }
}

function defaultLoad(): unknown {
  return require("@matrix-org/matrix-sdk-crypto-nodejs"); // eslint-disable-line @typescript-eslint/no-require-imports
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0]?.slice(0, 200) ?? "";
}
