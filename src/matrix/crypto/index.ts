// End-to-end encryption for client mode: the WASM bridge (packages/matrix-sdk-crypto-nodejs) made durable.
export { PersistentCryptoStore, SNAPSHOT_FILE, LOCK_FILE, type PersistentStoreOptions } from "./persistent-store";
export { StoreLockedError } from "./store-lock";
export { SnapshotFileError } from "./snapshot-file";
export { CryptoSession, CryptoError, type CryptoSessionOptions } from "./session";
export { startCrypto, UNDECRYPTABLE_NOTICE, type CryptoRuntime, type RoomKeyRef, type StartCryptoOptions } from "./start";
export { UNDECRYPTABLE_CAUSES, undecryptableCause, type UndecryptableCause } from "./decrypt-cause";
export { inspectCrypto, cryptoStoreDir, type CryptoInspection } from "./inspect";

