// End-to-end encryption for client mode: the WASM bridge (packages/matrix-sdk-crypto-nodejs) made durable.
export { PersistentCryptoStore, SNAPSHOT_FILE, LOCK_FILE, type PersistentStoreOptions } from "./persistent-store";
export { StoreLockedError } from "./store-lock";
export { SnapshotFileError } from "./snapshot-file";
export { CryptoSession, CryptoError, type CryptoSessionOptions } from "./session";
export { startCrypto, UNDECRYPTABLE_NOTICE, type CryptoRuntime, type StartCryptoOptions } from "./start";
export { inspectCrypto, cryptoStoreDir, type CryptoInspection } from "./inspect";

