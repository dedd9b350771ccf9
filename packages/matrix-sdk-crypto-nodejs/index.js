"use strict";
// Stand-in for @matrix-org/matrix-sdk-crypto-nodejs (see README.md, "Encryption").
// matrix-bot-sdk 0.7.1 requires this module at import time but touches it only when E2EE is enabled.
// Every class is present so the SDK loads; constructing or calling any of them throws a clear error.
const MESSAGE =
  "End-to-end encryption is not available in this build: the native crypto package is replaced by a stub. " +
  "Set MATRIX_E2EE=false (the default).";

class E2eeUnavailableError extends Error {
  constructor() {
    super(MESSAGE);
    this.name = "E2eeUnavailableError";
  }
}

function unavailable(name) {
  const C = class {
    constructor() {
      throw new E2eeUnavailableError();
    }
    static initialize() {
      return Promise.reject(new E2eeUnavailableError());
    }
  };
  Object.defineProperty(C, "name", { value: name });
  return C;
}

const classes = [
  "OlmMachine", "UserId", "DeviceId", "RoomId", "DeviceLists", "EncryptionSettings", "Attachment",
  "EncryptedAttachment", "Signatures", "KeysUploadRequest", "KeysQueryRequest", "KeysClaimRequest",
  "ToDeviceRequest", "SignatureUploadRequest", "RoomMessageRequest", "KeysBackupRequest",
];
for (const name of classes) exports[name] = unavailable(name);

exports.StoreType = Object.freeze({ Sled: 0, Sqlite: 1 });
exports.RequestType = Object.freeze({
  KeysUpload: 0, KeysQuery: 1, KeysClaim: 2, ToDevice: 3, SignatureUpload: 4, RoomMessage: 5, KeysBackup: 6,
});
exports.EncryptionAlgorithm = Object.freeze({ OlmV1Curve25519AesSha2: 0, MegolmV1AesSha2: 1 });
exports.HistoryVisibility = Object.freeze({ Invited: 0, Joined: 1, Shared: 2, WorldReadable: 3 });
exports.E2eeUnavailableError = E2eeUnavailableError;
exports.isStub = true;
