// End-to-end encryption in appservice mode, the transaction side: what a homeserver puts in `PUT /transactions` for
// an encrypted appservice, read under every name it has had, and turned into what /sync would carry for the bot's own
// device, so the crypto machine is fed from transactions as client mode feeds it from /sync.
//
// | data                      | stable (MSC4203, MSC3202)          | unstable                                               |
// |---------------------------|------------------------------------|--------------------------------------------------------|
// | to-device messages        | `to_device`                        | `de.sorunome.msc2409.to_device` (Synapse 1.67 and later) |
// | device-list changes       | `device_lists`                     | `org.matrix.msc3202.device_lists`                      |
// | one-time key counts       | `device_one_time_keys_count`       | `org.matrix.msc3202.device_one_time_keys_count` (MSC, Synapse ≥ 1.73), `org.matrix.msc3202.device_one_time_key_counts` (Synapse 1.67) |
// | unused fallback key types | `device_unused_fallback_key_types` | `org.matrix.msc3202.device_unused_fallback_key_types`  |
//
// To-device messages name their recipient (`to_user_id`, `to_device_id`); the counts and fallback key types are
// per user and device. Only what is addressed to the bot's device reaches its machine.
import { createHash } from "node:crypto";
import type { SyncCryptoHook } from "./client-sync";
import type { SyncCryptoSections } from "./crypto/session";
import type { InboundItem } from "./events";
import { digestOf } from "./appservice-protocol";

const NAMES = {
  toDevice: ["to_device", "de.sorunome.msc2409.to_device"],
  deviceLists: ["device_lists", "org.matrix.msc3202.device_lists"],
  otkCounts: ["device_one_time_keys_count", "org.matrix.msc3202.device_one_time_keys_count", "org.matrix.msc3202.device_one_time_key_counts"],
  fallbackKeys: ["device_unused_fallback_key_types", "org.matrix.msc3202.device_unused_fallback_key_types"],
} as const;

/** Every transaction field encryption reads, in a fixed order (for the transaction's digest). */
export const CRYPTO_FIELDS: readonly string[] = [...NAMES.toDevice, ...NAMES.deviceLists, ...NAMES.otkCounts, ...NAMES.fallbackKeys];

type Body = Record<string, unknown>;

/** The first name present (the stable one first, as mautrix reads them). */
function field(body: Body, names: readonly string[]): unknown {
  for (const name of names) if (body[name] !== undefined && body[name] !== null) return body[name];
  return undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);

export interface DeviceAddress {
  userId: string;
  deviceId: string;
}

/**
 * What of the transaction concerns the bot's device, shaped as /sync carries it; undefined when nothing does.
 * A count or fallback list absent for the device stays absent (unknown, not zero). A device listed with no
 * `signed_curve25519` count has none left: /sync always says so with a 0, Synapse's transactions leave it out.
 */
export function cryptoSectionsFor(body: Body, device: DeviceAddress): { sections: SyncCryptoSections; toDevice: number } | undefined {
  const sections: SyncCryptoSections = {};
  const toDevice = Array.isArray(field(body, NAMES.toDevice)) ? (field(body, NAMES.toDevice) as unknown[]) : [];
  const mine = toDevice.filter((m) => isObject(m) && m["to_user_id"] === device.userId && m["to_device_id"] === device.deviceId)
    .map((m) => {
      const { to_user_id: _user, to_device_id: _device, ...event } = m as Record<string, unknown>;
      return event;
    });
  if (mine.length > 0) sections.to_device = { events: mine };
  const lists = field(body, NAMES.deviceLists);
  if (isObject(lists) && (strings(lists["changed"]).length > 0 || strings(lists["left"]).length > 0)) {
    sections.device_lists = { changed: strings(lists["changed"]), left: strings(lists["left"]) };
  }
  const counts = perDevice(field(body, NAMES.otkCounts), device);
  if (isObject(counts)) sections.device_one_time_keys_count = { signed_curve25519: 0, ...counts };
  const fallback = perDevice(field(body, NAMES.fallbackKeys), device);
  if (Array.isArray(fallback)) sections.device_unused_fallback_key_types = strings(fallback);
  return Object.keys(sections).length > 0 ? { sections, toDevice: mine.length } : undefined;
}

function perDevice(byUser: unknown, device: DeviceAddress): unknown {
  const byDevice = isObject(byUser) ? byUser[device.userId] : undefined;
  return isObject(byDevice) ? byDevice[device.deviceId] : undefined;
}

/** The transaction's digest: its event ids, and what it brings the crypto machine (a reused id with other contents is processed). */
export function transactionDigest(body: Body & { events: unknown[] }): string {
  const cryptoPart = cryptoDigestPart(body);
  return cryptoPart === "" ? digestOf(body.events) : `${digestOf(body.events)}.${cryptoPart}`;
}

/** A digest of the transaction's encryption fields ("" when it has none), so a reused id with other keys is processed. */
export function cryptoDigestPart(body: Body): string {
  const present = CRYPTO_FIELDS.filter((name) => body[name] !== undefined);
  if (present.length === 0) return "";
  const hash = createHash("sha256");
  for (const name of present) hash.update(name).update("\n").update(JSON.stringify(body[name]) ?? "").update("\n");
  return hash.digest("base64url").slice(0, 22);
}

/**
 * The transaction's items with encryption applied in order: room encryption settings from state events, then each
 * `m.room.encrypted` message replaced by its clear event (same event id), or left as it is when undecryptable (the
 * router then posts its one notice per room).
 */
export async function decryptItems(hook: SyncCryptoHook, items: InboundItem[]): Promise<InboundItem[]> {
  const out: InboundItem[] = [];
  for (const item of items) {
    if (item.kind !== "event") {
      out.push(item);
      continue;
    }
    const { event } = item;
    if (event.state_key !== undefined) await hook.onStateEvent(event).catch(() => undefined);
    if (event.type !== "m.room.encrypted" || event.state_key !== undefined) {
      out.push(item);
      continue;
    }
    const clear = await hook.decrypt(event).catch(() => "undecryptable" as const);
    out.push(clear === "undecryptable" ? item : { ...item, event: clear });
  }
  return out;
}

/** What the appservice server needs for encryption (MATRIX_E2EE=true): the bot's device and its crypto hooks. */
export interface TransactionCrypto {
  device: DeviceAddress;
  /** The same hooks client mode's sync loop calls; `afterBatch` makes the crypto store durable (throws if it cannot). */
  hook: SyncCryptoHook;
  /** How many room keys the device has received so far (a transaction that brought one is a crash-test point). */
  roomKeysReceived(): number;
}

/**
 * Feeds the transaction's encryption sections to the machine, then decrypts its items. Returns the items and how many
 * to-device messages and room keys it brought (the caller makes the store durable before it answers 200).
 */
export async function applyTransactionCrypto(crypto: TransactionCrypto, body: Body, items: InboundItem[]):
  Promise<{ items: InboundItem[]; toDevice: number; roomKeys: number }> {
  const keysBefore = crypto.roomKeysReceived();
  const found = cryptoSectionsFor(body, crypto.device);
  if (found) await crypto.hook.beforeBatch(found.sections);
  const decrypted = await decryptItems(crypto.hook, items);
  return { items: decrypted, toDevice: found?.toDevice ?? 0, roomKeys: crypto.roomKeysReceived() - keysBefore };
}

/**
 * The registration flags with which Synapse puts encryption's data in transactions: to-device messages with the
 * ephemeral events (MSC2409, unstable and stable names), device lists and key counts (MSC3202). `npm run register`
 * writes them.
 */
export const ENCRYPTION_REGISTRATION_FLAGS = ["de.sorunome.msc2409.push_ephemeral", "receive_ephemeral", "org.matrix.msc3202"] as const;

/** Synapse's `experimental_features` for appservice encryption: the transaction fields, and acting as the bot's device. */
export const SYNAPSE_ENCRYPTION_FEATURES = ["msc2409_to_device_messages_enabled", "msc3202_device_masquerading", "msc3202_transaction_extensions"] as const;

/** The flags the registration does not set to true. */
export function missingEncryptionFlags(registration: Record<string, unknown>): string[] {
  return ENCRYPTION_REGISTRATION_FLAGS.filter((flag) => registration[flag] !== true);
}
