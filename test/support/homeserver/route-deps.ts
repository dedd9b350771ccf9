// What every route handler may use.
import type { RoomActions } from "./actions";
import type { AppserviceLink } from "./appservice";
import type { E2eeDialect } from "./appservice-devices";
import type { Faults } from "./faults";
import type { HomeserverModel } from "./model";
import type { RoomVersion } from "./types";

export interface RouteDeps {
  model: HomeserverModel;
  actions: RoomActions;
  faults: Faults;
  appservices: Map<string, AppserviceLink>;
  /** Idempotent PUT responses keyed by token scope + endpoint (incl. txnId). */
  txnCache: Map<string, unknown>;
  defaultTimelineLimit: number;
  defaultRoomVersion: RoomVersion;
  /** /versions lists v1.11 and later only with authenticated media. */
  authenticatedMedia: boolean;
  /** What encrypted appservices get (appservice-devices.ts, appservice-e2ee.ts). */
  appserviceE2ee: E2eeDialect;
}
