// Shared pieces of the crypto tests: a silent logger that the SDK's own console lines go into as well, and the
// m.room.encryption state event that makes a room encrypted.
import pino, { type Logger } from "pino";
import { routeSdkLogsInto } from "../../../src/matrix/sdk";

export const log: Logger = pino({ level: "silent" });
routeSdkLogsInto(log); // the SDK's own console lines (expected 404s) into the silent logger

export const ENCRYPTION = { type: "m.room.encryption", content: { algorithm: "m.megolm.v1.aes-sha2" } };
