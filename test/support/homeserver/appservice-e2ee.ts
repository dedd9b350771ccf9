// Encrypted appservices, the homeserver side of transactions: to-device messages for the devices of the appservice's
// users (MSC2409 as Synapse 1.67 sends them; MSC4203), device-list changes of users who share a room with them, and
// the one-time key counts and unused fallback key types of their devices (MSC3202), all in the transaction body.
// Synapse 1.67 (synapse/appservice/api.py, scheduler.py, handlers/appservice.py) is followed for what goes in and when:
// to-device messages carry `to_user_id` / `to_device_id`; key counts cover the sender, the appservice's users in the
// rooms of the transaction's events and the recipients of its to-device messages, per device (an empty object for a
// device without one-time keys, an empty list for one without an unused fallback key); at most 100 to-device messages
// per transaction. A retried transaction carries the same body (the link keeps it).
import type { E2eeDialect } from "./appservice-devices";
import type { HomeserverModel } from "./model";
import type { AppserviceRegistration, ClientEvent, JsonObject } from "./types";

/** What an AppserviceLink asks for besides its events. */
export interface TransactionExtras {
  /** Whether anything waits for a transaction even without events. */
  readonly pending: boolean;
  /** The body's other fields for the next transaction (undefined: none). */
  take(events: readonly ClientEvent[]): JsonObject | undefined;
}

/** Synapse's MAX_TO_DEVICE_MESSAGES_PER_TRANSACTION. */
export const MAX_TO_DEVICE_PER_TRANSACTION = 100;

const FIELDS = {
  "synapse-1.67": {
    ephemeral: "de.sorunome.msc2409.ephemeral", toDevice: "de.sorunome.msc2409.to_device",
    deviceLists: "org.matrix.msc3202.device_lists", otkCounts: "org.matrix.msc3202.device_one_time_key_counts",
    fallbackKeys: "org.matrix.msc3202.device_unused_fallback_key_types",
  },
  stable: {
    ephemeral: "ephemeral", toDevice: "to_device", deviceLists: "device_lists", otkCounts: "device_one_time_keys_count",
    fallbackKeys: "device_unused_fallback_key_types",
  },
} as const;

export interface FeedOwner {
  readonly registration: AppserviceRegistration;
  readonly senderUserId: string;
  ownsUser(userId: string): boolean;
}

export class AppserviceE2eeFeed implements TransactionExtras {
  private toDevice: JsonObject[] = [];
  private readonly changed = new Set<string>();

  constructor(private readonly owner: FeedOwner, private readonly model: HomeserverModel, private readonly dialect: E2eeDialect) {}

  private get names(): (typeof FIELDS)[keyof typeof FIELDS] {
    return FIELDS[this.dialect.fields];
  }

  /** Synapse 1.67 pushes ephemeral events (and, with its flag, to-device messages) only to registrations that ask. */
  private get pushesEphemeral(): boolean {
    const reg = this.owner.registration;
    if (this.dialect.fields === "synapse-1.67") return reg["de.sorunome.msc2409.push_ephemeral"] === true;
    return reg.receive_ephemeral === true || reg["de.sorunome.msc2409.push_ephemeral"] === true;
  }

  /** MSC4203 has no opt-in; Synapse 1.67 sends to-device messages with the ephemeral ones. */
  private get pushesToDevice(): boolean {
    return this.dialect.fields === "stable" || this.pushesEphemeral;
  }

  /** MSC3202's fields: opt-in with `org.matrix.msc3202: true` on Synapse, always with stable fields. */
  private get pushesKeyState(): boolean {
    return this.dialect.fields === "stable" || this.owner.registration["org.matrix.msc3202"] === true;
  }

  get pending(): boolean {
    return this.toDevice.length > 0 || this.changed.size > 0;
  }

  /** A to-device message was sent to `userId`'s device; true when it waits for this appservice's next transaction. */
  onToDevice(userId: string, deviceId: string, event: JsonObject): boolean {
    if (!this.pushesToDevice || !this.owner.ownsUser(userId)) return false;
    this.toDevice.push({ to_user_id: userId, to_device_id: deviceId, ...event });
    return true;
  }

  /** `userId` uploaded device keys; true when the change waits for this appservice's next transaction. */
  onDeviceKeysChanged(userId: string): boolean {
    if (!this.pushesKeyState || !this.interestedInDevicesOf(userId)) return false;
    this.changed.add(userId);
    return true;
  }

  take(events: readonly ClientEvent[]): JsonObject | undefined {
    const names = this.names;
    const body: JsonObject = {};
    const toDevice = this.toDevice.splice(0, MAX_TO_DEVICE_PER_TRANSACTION);
    if (this.dialect.fields === "synapse-1.67") {
      // Synapse 1.67 sends both keys whenever the registration asks for ephemeral events, empty or not.
      if (this.pushesEphemeral) Object.assign(body, { [names.ephemeral]: [], [names.toDevice]: toDevice });
    } else if (toDevice.length > 0) {
      body[names.toDevice] = toDevice;
    }
    if (this.pushesKeyState) {
      if (this.changed.size > 0) body[names.deviceLists] = { changed: [...this.changed], left: [] };
      this.changed.clear();
      const users = this.keyCountUsers(events, toDevice);
      const counts = this.oneTimeKeyCounts(users);
      if (Object.keys(counts).length > 0) body[names.otkCounts] = counts;
      const fallback = this.unusedFallbackKeyTypes(users);
      if (Object.keys(fallback).length > 0) body[names.fallbackKeys] = fallback;
    }
    return Object.keys(body).length > 0 ? body : undefined;
  }

  /** Synapse: the sender, the appservice's users in the rooms of the events, the recipients of the to-device messages. */
  private keyCountUsers(events: readonly ClientEvent[], toDevice: readonly JsonObject[]): string[] {
    const users = new Set<string>([this.owner.senderUserId]);
    for (const roomId of new Set(events.map((e) => e.room_id))) {
      const room = this.model.room(roomId);
      for (const member of room ? [...room.members("join"), ...room.members("invite")] : []) if (this.owner.ownsUser(member)) users.add(member);
    }
    for (const message of toDevice) if (typeof message["to_user_id"] === "string") users.add(message["to_user_id"]);
    return [...users];
  }

  /** user → device → algorithm → count; a device without one-time keys has an empty object (Synapse's LEFT JOIN). */
  private oneTimeKeyCounts(users: string[]): JsonObject {
    const out: JsonObject = {};
    for (const userId of users) {
      const devices: JsonObject = {};
      for (const deviceId of this.model.users.devices.list(userId)) {
        devices[deviceId] = Object.fromEntries(Object.entries(this.model.keys.counts(userId, deviceId)).filter(([, n]) => n > 0));
      }
      if (Object.keys(devices).length > 0) out[userId] = devices;
    }
    return out;
  }

  /** user → device → algorithms of unused fallback keys (an empty list when there is none). */
  private unusedFallbackKeyTypes(users: string[]): JsonObject {
    const out: JsonObject = {};
    for (const userId of users) {
      const devices: JsonObject = {};
      for (const deviceId of this.model.users.devices.list(userId)) devices[deviceId] = this.model.keys.unusedFallbackTypes(userId, deviceId);
      if (Object.keys(devices).length > 0) out[userId] = devices;
    }
    return out;
  }

  /** Synapse: the user is the appservice's, or one of the user's joined rooms has one of the appservice's users. */
  private interestedInDevicesOf(userId: string): boolean {
    if (this.owner.ownsUser(userId)) return true;
    for (const room of this.model.rooms.values()) {
      if (room.membership(userId) !== "join") continue;
      if ([...room.members("join"), ...room.members("invite")].some((member) => this.owner.ownsUser(member))) return true;
    }
    return false;
  }
}
