// Shapes shared by the homeserver double: spec ClientEvents, records kept for tests, errors.

export type JsonObject = Record<string, unknown>;

/** A Client-Server API ClientEvent (room_id is dropped inside /sync, as the spec's ClientEventWithoutRoomID). */
export interface ClientEvent {
  event_id: string;
  type: string;
  sender: string;
  room_id: string;
  origin_server_ts: number;
  content: JsonObject;
  state_key?: string;
  redacts?: string;
  unsigned?: JsonObject;
}

/** Stripped state, as in `invite_state`. */
export interface StrippedStateEvent {
  type: string;
  state_key: string;
  sender: string;
  content: JsonObject;
}

export type Membership = "join" | "invite" | "leave" | "ban" | "knock";
export type RoomVersion = "10" | "11" | "12";
export const SUPPORTED_ROOM_VERSIONS: readonly RoomVersion[] = ["10", "11", "12"];

export interface HomeserverOptions {
  /** Server name used in user ids, aliases and (pre-v12) room ids. Default "localhost". */
  serverName?: string;
  /** Wait before re-sending a failed appservice transaction (same txnId). Default 50 ms. */
  txnRetryMs?: number;
  /** Abort an appservice transaction push that has not answered after this long. Default 10 s. */
  txnTimeoutMs?: number;
  /** /sync timeline limit when the filter sets none. Default 10. */
  defaultTimelineLimit?: number;
  /** Room version of createRoom when the request names none. Default "10". */
  defaultRoomVersion?: RoomVersion;
  /** Request bodies larger than this are refused with 413 M_TOO_LARGE. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Most events in one appservice transaction (Synapse: 100); the rest wait for the next. Default unlimited. */
  maxEventsPerTransaction?: number;
  /** Authenticated media (Matrix 1.11, MSC3916): /versions lists v1.11+ and /_matrix/client/v1/media exists. false: as Synapse 1.67. Default true. */
  authenticatedMedia?: boolean;
  /** Uploads larger than this are refused with 413 M_TOO_LARGE. Default 100 MiB. */
  maxUploadBytes?: number;
  /** Send txnIds are remembered between one and two of these periods (Synapse: 30 min). Default 30 min. */
  txnCachePeriodMs?: number;
  /** The clock of the txnId memory. Default Date.now. */
  now?: () => number;
  /** MSC3967: a user's first cross-signing key upload needs no user-interactive auth. Default false (Synapse 1.67). */
  crossSigningFirstUploadWithoutAuth?: boolean;
  /** Appservice encryption: which homeserver the double plays (appservice-e2ee.ts). Default Synapse 1.67's. */
  appserviceE2ee?: AppserviceE2eeOptions;
}

/**
 * What the double offers encrypted appservices. The defaults are Synapse 1.67 with its experimental flags on
 * (msc2409_to_device_messages_enabled, msc3202_device_masquerading, msc3202_transaction_extensions).
 */
export interface AppserviceE2eeOptions {
  /**
   * Transaction field names. "synapse-1.67": `de.sorunome.msc2409.to_device` (with the registration's
   * `de.sorunome.msc2409.push_ephemeral`), `org.matrix.msc3202.device_lists`, `org.matrix.msc3202.device_one_time_key_counts`,
   * `org.matrix.msc3202.device_unused_fallback_key_types` (with `org.matrix.msc3202: true`). "stable": `to_device`
   * (MSC4203), `device_lists`, `device_one_time_keys_count`, `device_unused_fallback_key_types` (MSC3202), no opt-in.
   */
  fields?: "synapse-1.67" | "stable";
  /** Device masquerading (`org.matrix.msc3202.device_id`; also `device_id` with stable fields). Default true. */
  deviceMasquerading?: boolean;
  /** MSC4190: an appservice creates its users' devices with `PUT /devices/{deviceId}`. Default false (Synapse 1.67). */
  deviceManagement?: boolean;
  /** `m.login.application_service`; false answers M_APPSERVICE_LOGIN_UNSUPPORTED, as under MAS. Default true. */
  login?: boolean;
}

/** Instrumentation for benchmarks: called synchronously, with high-resolution times (`performance.now()`). */
export interface HomeserverObserver {
  /** A request arrived (its record is filled in as it is handled). */
  request?(record: RequestRecord, now: number): void;
  /** The double is about to PUT a transaction to an appservice (every attempt, retries included). */
  transactionPush?(push: { appserviceId: string; txnId: string; events: readonly ClientEvent[] }, now: number): void;
  /** That push was answered (`status` 0: no answer, a network error). */
  transactionAnswered?(push: { appserviceId: string; txnId: string; events: readonly ClientEvent[]; status: number }, now: number): void;
}

export interface RequestRecord {
  method: string;
  /** Decoded path, e.g. "/_matrix/client/v3/rooms/!a:localhost/send/m.room.message/t1". */
  path: string;
  /** Every query parameter, repeated ones in order (e.g. `via`). */
  query: Record<string, string[]>;
  /** The effective user (after appservice masquerading), when the token was valid. */
  userId?: string;
  at: number;
  /** HTTP status sent; undefined while the request is still being handled (e.g. a long-poll). */
  status?: number;
}

export interface TypingRecord {
  roomId: string;
  userId: string;
  typing: boolean;
  timeout?: number;
  at: number;
}

export interface ReceiptRecord {
  roomId: string;
  userId: string;
  eventId: string;
  /** m.read, m.read.private or m.fully_read (the last one from read_markers). */
  type: string;
  threadId?: string;
  at: number;
}

export interface TransactionRecord {
  appserviceId: string;
  txnId: string;
  events: ClientEvent[];
  /** HTTP status of this attempt; 0 when the request failed at the network level. */
  status: number;
  error?: string;
  at: number;
  /** The body's fields besides `events` (ephemeral, to-device, device lists, key counts), when there were any. */
  extras?: JsonObject;
}

export interface Namespace {
  exclusive: boolean;
  regex: string;
}

export interface AppserviceRegistration {
  id: string;
  /** Where transactions go; null means the appservice receives no pushes. */
  url: string | null;
  as_token: string;
  hs_token: string;
  sender_localpart: string;
  namespaces: { users?: Namespace[]; aliases?: Namespace[]; rooms?: Namespace[] };
  rate_limited?: boolean;
  protocols?: string[];
  /** MSC2409 (unstable): ephemeral events, and with Synapse 1.67 to-device messages, pushed in transactions. */
  "de.sorunome.msc2409.push_ephemeral"?: boolean;
  /** MSC2409 (stable name of the same opt-in). */
  receive_ephemeral?: boolean;
  /** MSC3202 opt-in (Synapse): device lists, one-time key counts and unused fallback key types in transactions. */
  "org.matrix.msc3202"?: boolean;
}

/** How the double authenticates to the appservice: spec header, legacy query parameter, or both. */
export type AppserviceAuthStyle = "both" | "header" | "query";

/** A spec error: status, errcode, human text, extra body fields (retry_after_ms, soft_logout). */
export class MatrixHttpError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: string,
    message: string,
    readonly extra: JsonObject = {},
  ) {
    super(message);
    this.name = "MatrixHttpError";
  }

  body(): JsonObject {
    return { errcode: this.errcode, error: this.message, ...this.extra };
  }
}

export const forbidden = (message: string): MatrixHttpError => new MatrixHttpError(403, "M_FORBIDDEN", message);
export const notFound = (message: string): MatrixHttpError => new MatrixHttpError(404, "M_NOT_FOUND", message);
export const badJson = (message: string): MatrixHttpError => new MatrixHttpError(400, "M_BAD_JSON", message);
export const invalidParam = (message: string): MatrixHttpError => new MatrixHttpError(400, "M_INVALID_PARAM", message);
export const missingParam = (message: string): MatrixHttpError => new MatrixHttpError(400, "M_MISSING_PARAM", message);

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A deep copy. Plain JSON data (what events and bodies are) is copied directly, several times faster than
 *  structuredClone; anything else (a Map, a Date, a class instance) goes through structuredClone. */
export function clone<T>(value: T): T {
  return copyJson(value) as T;
}

function copyJson(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map(copyJson);
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return structuredClone(value);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const copy = copyJson((value as Record<string, unknown>)[key]);
    // A "__proto__" key is data in JSON (Synapse keeps it): assigning it would set the copy's prototype instead.
    if (key === "__proto__") Object.defineProperty(out, key, { value: copy, enumerable: true, writable: true, configurable: true });
    else out[key] = copy;
  }
  return out;
}
