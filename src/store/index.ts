export { openStore, type OpenStoreOptions, type Store } from "./store";
export { StoreError, StoreConfigError, StoreUnavailableError } from "./errors";
export { ACCEPTED_STORE_SCHEMES, parseStoreUrl, redactStoreUrl, type StoreBackend, type ParsedStoreUrl } from "./store-url";
export { NAMESPACE_NAME } from "./namespace-view";
export { StoreSweeper, type SweepOptions } from "./sweep";
