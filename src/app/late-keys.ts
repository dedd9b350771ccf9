// Wiring of the late-key path (src/rooms/undecryptable): the held events' namespace, the notice, the metrics. The
// router is created after this and handed over with bind().
import type { Logger } from "pino";
import type { Config } from "../config";
import type { CryptoRuntime } from "../matrix/crypto";
import type { RoomEvent } from "../matrix/events";
import type { Journal } from "../matrix/journal";
import type { RoomMessageSender } from "../matrix/sender";
import type { Metrics } from "../metrics";
import { EncryptedRoomNotice, type NoticeRecord } from "../rooms/encrypted-notice";
import { HeldEvents, type HeldRecord } from "../rooms/undecryptable/held-events";
import { LateKeys } from "../rooms/undecryptable/late-keys";
import type { Store } from "../store";
import { listNamespace } from "./matrix-helpers";

export interface LateKeysWiring {
  /** The router's `encryptedNotice`. */
  onUnreadable(event: RoomEvent): Promise<RoomEvent | undefined>;
  /** After the journal's recovery: loads the held events, listens for room keys, retries what is held. */
  start(router: { routeLater(roomId: string, work: () => Promise<RoomEvent | undefined>): void }): Promise<void>;
  stop(): void;
}

export function wireLateKeys(deps: { config: Config; store: Store; crypto: CryptoRuntime | undefined; messages: RoomMessageSender;
  journal: Journal; metrics: Metrics; log: Logger }): LateKeysWiring {
  const { config, store, crypto, metrics, log } = deps;
  const kv = store.namespace<HeldRecord>("undecryptable-held");
  const held = new HeldEvents(kv, { max: config.timings.undecryptableKeepMax, maxAgeMs: config.timings.undecryptableKeepMs,
    list: () => listNamespace(kv), onDropped: (count, why) => metrics.crypto.undecryptableDropped(count, why) }, log);
  const notice = new EncryptedRoomNotice(store.namespace<NoticeRecord>("encrypted-notice"), deps.messages, log, crypto?.undecryptableNotice);
  let router: Parameters<LateKeysWiring["start"]>[0] | undefined;
  const lateKeys = new LateKeys({ crypto, held, notice, journal: deps.journal, log,
    expiryCheckMs: Math.max(1_000, Math.min(config.timings.undecryptableKeepMs, 600_000)),
    routeLater: (roomId, work) => router?.routeLater(roomId, work),
    metrics: { undecryptable: (cause) => metrics.crypto.undecryptable(cause), lateDecrypted: () => metrics.crypto.lateDecrypted(),
      held: (count) => metrics.crypto.undecryptableHeld(count) } });
  if (crypto) metrics.crypto.watchBackupLag(() => (crypto.backup.enabled ? crypto.backup.lag : undefined));
  return {
    onUnreadable: (event) => lateKeys.onUnreadable(event),
    start: async (r) => {
      router = r;
      await lateKeys.start();
    },
    stop: () => lateKeys.stop(),
  };
}
