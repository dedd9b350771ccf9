// Why an encrypted room event could not be read, as a small fixed set (the label values of the
// undecryptable_events_total metric), from the crypto machine's DecryptionErrorCode (crypto-wasm 18.9), which the
// bridge (packages/matrix-sdk-crypto-nodejs) passes on as the error's `code`.

/** missing_key: no room key (yet), or one that starts after this message; unknown_device: the sender's device is not
 *  known or not cross-signed; encryption_off: the bot runs without MATRIX_E2EE; other: anything else. */
export const UNDECRYPTABLE_CAUSES = ["missing_key", "unknown_device", "encryption_off", "other"] as const;
export type UndecryptableCause = (typeof UNDECRYPTABLE_CAUSES)[number];

/** DecryptionErrorCode values (crypto-wasm): MissingRoomKey 0, UnknownMessageIndex 1, UnknownSenderDevice 3, UnsignedSenderDevice 4. */
const BY_CODE: Readonly<Record<number, UndecryptableCause>> = { 0: "missing_key", 1: "missing_key", 3: "unknown_device", 4: "unknown_device" };

export function undecryptableCause(error: unknown): UndecryptableCause {
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === "number" ? BY_CODE[code] ?? "other" : "other";
}
