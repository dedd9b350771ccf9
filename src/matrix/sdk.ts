// The one import of matrix-bot-sdk. Everything else talks to the small interfaces in this folder.
//
// matrix-bot-sdk 0.7.1 requires @matrix-org/matrix-sdk-crypto-nodejs at import time. package.json's
// `overrides` replaces that package with packages/matrix-sdk-crypto-nodejs (ours): a bridge of the API the SDK
// calls over @matrix-org/matrix-sdk-crypto-wasm, so no native binary is downloaded. It loads the WASM only on
// first use; the bot does not use it yet (src/matrix/crypto, runbook/encryption.md).
import { LogLevel, LogService, MatrixClient, MatrixError } from "matrix-bot-sdk";
import { routeSdkLogs } from "../log";

export { LogLevel, LogService, MatrixError };

/** The SDK's client, used only as an HTTP transport (auth header, JSON, user_id masquerading). */
export type SdkClient = Pick<MatrixClient, "doRequest">;

export function createSdkClient(homeserverUrl: string, accessToken: string, masqueradeAs?: string): SdkClient {
  const client = new MatrixClient(homeserverUrl, accessToken);
  if (masqueradeAs !== undefined) client.impersonateUserId(masqueradeAs);
  return client;
}

export function isSdkMatrixError(e: unknown): e is MatrixError {
  return e instanceof MatrixError;
}

/** Routes the SDK's global LogService into our logger (secrets scrubbed there, raw HTTP objects dropped). */
export function routeSdkLogsInto(logger: import("pino").Logger): void {
  routeSdkLogs(logger, { LogService, LogLevel });
}
