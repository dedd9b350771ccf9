// The inbound side of each mode: client mode's sync loop, or appservice mode's transaction server. Both hand
// batches to the router, which journals them before they are acknowledged.
import type { Logger } from "pino";
import type { Config } from "../config";
import { childLogger } from "../log";
import { missingEncryptionFlags } from "../matrix/appservice-crypto";
import { ClientSync } from "../matrix/client-sync";
import type { CryptoRuntime } from "../matrix/crypto";
import type { MatrixRequestError } from "../matrix/errors";
import type { MatrixHttp } from "../matrix/http";
import type { InboundBatchOptions, InboundItem } from "../matrix/events";
import { InboundIntake } from "../matrix/inbound-intake";
import type { Journal } from "../matrix/journal";
import type { InboundRouter } from "../router";
import type { Store } from "../store";
import type { Operations } from "./operations";
import { createAppserviceServer, type StandbyListener } from "./appservice-standby";

export interface InboundDeps {
  config: Config;
  botUserId: string;
  store: Store;
  http: MatrixHttp;
  /** Journals a batch (throws if it cannot: the batch is then not acknowledged); counts refusals. */
  intake: InboundIntake;
  journal: Journal;
  log: Logger;
  onTokenRejected: (error: MatrixRequestError) => void;
  /** Each time the homeserver answered (readiness). */
  onHomeserverOk?: () => void;
  /** Appservice mode on a shared store: the listener opened before the lease (appservice-standby.ts), activated here. */
  standbyListener?: StandbyListener;
  /** MATRIX_E2EE=true: decrypts inbound events and feeds the crypto machine around each batch or transaction. */
  crypto?: Pick<CryptoRuntime, "syncHook" | "transactionCrypto">;
}

export interface Inbound {
  /** Appservice mode: where transactions are received. */
  port?: number;
  stop(): Promise<void>;
}

/** Between the connection and the router: poison events skipped, refusals counted (metrics, readiness, /status). */
export function inboundIntake(ops: Operations, store: Store, log: Logger, router: () => InboundRouter): InboundIntake {
  return new InboundIntake({
    handle: (items: InboundItem[], opts) => {
      ops.metrics.inboundEvents(items.length);
      return router().onBatch(items, opts);
    },
    storeWorks: () => store.healthCheck(), log: childLogger(log, "inbound"),
    onPoisoned: () => ops.metrics.inboundPoisoned(),
    onRefused: () => {
      ops.metrics.inboundBatchRefused();
      ops.readiness.inboundRefused();
    },
    onAccepted: () => ops.readiness.inboundAccepted(),
  });
}

export async function startInbound(deps: InboundDeps): Promise<Inbound> {
  return deps.config.mode === "appservice" ? startAppservice(deps) : startSync(deps);
}

async function startSync(deps: InboundDeps): Promise<Inbound> {
  const t = deps.config.timings;
  const tokens = deps.store.namespace<string>("sync");
  const sync = new ClientSync(deps.http, {
    load: async () => (await tokens.get("next_batch")) ?? undefined,
    save: async (token) => void (await tokens.set("next_batch", token)),
  }, {
    userId: deps.botUserId, syncTimeoutMs: t.syncTimeoutMs, requestTimeoutMs: t.requestTimeoutMs,
    retryBaseMs: t.retryBaseMs, retryMaxMs: t.retryMaxMs, gapFillMaxEvents: t.gapFillMaxEvents,
    isKnown: (roomId, eventId) => deps.journal.isDone(roomId, eventId),
    onBatch: (items, opts) => deps.intake.onBatch(items, opts), onTokenRejected: deps.onTokenRejected,
    ...(deps.onHomeserverOk ? { onSyncOk: deps.onHomeserverOk } : {}),
    ...(deps.crypto ? { crypto: deps.crypto.syncHook } : {}),
  }, childLogger(deps.log, "sync"));
  await sync.start();
  return { stop: () => sync.stop() };
}

async function startAppservice(deps: InboundDeps): Promise<Inbound> {
  const { config } = deps;
  const registration = config.registration;
  if (!registration) throw new Error("appservice mode needs MATRIX_REGISTRATION");
  const missing = deps.crypto ? missingEncryptionFlags(registration) : [];
  if (missing.length > 0) {
    deps.log.warn({ missing, registration: config.registrationPath },
      "MATRIX_E2EE=true, but the registration lacks flags encryption needs: Synapse sends no room keys or key counts without them; add them set to true (npm run register writes them) and restart the homeserver");
  }
  const sink = { onBatch: (items: InboundItem[], opts?: InboundBatchOptions) => deps.intake.onBatch(items, opts), onRefusedUnseen: () => deps.intake.refusedUnseen() };
  const listener = deps.standbyListener;
  if (listener) {
    await listener.activate(deps.botUserId, sink);
    return { port: listener.port, stop: () => listener.stop() };
  }
  const server = createAppserviceServer(config, deps.store, deps.log, deps.botUserId, { ...sink,
    ...(deps.onHomeserverOk ? { onTransactionOk: deps.onHomeserverOk } : {}),
    ...(deps.crypto?.transactionCrypto ? { crypto: deps.crypto.transactionCrypto } : {}),
  });
  const { port } = await server.start();
  deps.log.info({ host: config.appserviceBind.host, port }, "appservice listening for transactions");
  return { port, stop: () => server.stop() };
}
