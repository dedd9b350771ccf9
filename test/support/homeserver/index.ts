// The spec-faithful Matrix homeserver double (test code only). See homeserver.ts for the control API.
export { Homeserver, startHomeserver } from "./homeserver";
export type { TestUserCredentials } from "./homeserver";
export type { CreateRoomOptions } from "./room-create";
export type { MediaServed } from "./media";
export type { FaultMatch, FaultReply, InFlightGauge, PeriodicFault } from "./faults";
export type { PushResult } from "./appservice";
export { MatrixHttpError } from "./types";
export type {
  AppserviceAuthStyle,
  AppserviceE2eeOptions,
  AppserviceRegistration,
  ClientEvent,
  HomeserverObserver,
  HomeserverOptions,
  JsonObject,
  Membership,
  Namespace,
  ReceiptRecord,
  RequestRecord,
  RoomVersion,
  StrippedStateEvent,
  TransactionRecord,
  TypingRecord,
} from "./types";
