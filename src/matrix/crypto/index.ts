// End-to-end encryption for client mode: the WASM bridge (packages/matrix-sdk-crypto-nodejs) made durable.
export { PersistentCryptoStore, SNAPSHOT_FILE, LOCK_FILE, type PersistentStoreOptions } from "./persistent-store";
export { StoreLockedError } from "./store-lock";
export { SnapshotFileError } from "./snapshot-file";
export { CryptoSession, CryptoError, type CryptoSessionOptions } from "./session";
export { startCrypto, UNDECRYPTABLE_NOTICE, type CryptoRuntime, type StartCryptoOptions } from "./start";

/**
 * Whether the running app reads and answers encrypted rooms. False until the composition root wires the
 * crypto session into client sync and the outbox (issue 8, in progress): `npm run doctor` then still tells
 * an operator with MATRIX_E2EE=true that this build cannot do it, although the bridge itself loads.
 */
export const E2EE_INTEGRATED = false;
