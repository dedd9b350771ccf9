// Appservice mode on a PostgreSQL or Redis store (issue 30, runbook/scale-out.md): the transaction listener opens
// before this process waits for the store lease, so a standby answers transactions too (a reverse proxy in front of
// both processes may send each one to either). Until the process holds the lease, each transaction is stored for the
// active (src/inbox) and answered 200; nothing is processed or sent. Once it holds the lease (activate), what was held
// goes through its journal first, and its own transactions are processed as usual, each after what a standby held.
// With MATRIX_E2EE (no standby: src/app/standby.ts) and on SQLite the listener opens once started, as before.
import type { Logger } from "pino";
import type { Config } from "../config";
import { HeldTransactions, openInboxStore } from "../inbox";
import { childLogger } from "../log";
import { userNamespaceRegexes } from "../matrix/appservice-protocol";
import { AppserviceServer, type AppserviceServerOptions, type AppserviceTxnRecord } from "../matrix/appservice-server";
import { parseStoreUrl, type Store } from "../store";

/** Where transactions go once the process is active (the inbound intake). */
export type AppserviceSink = Pick<AppserviceServerOptions, "onBatch" | "onRefusedUnseen" | "onTransactionOk" | "crypto">;
type ActiveSink = Pick<AppserviceSink, "onBatch" | "onRefusedUnseen">;

/** The appservice transaction listener, with what `sink` says (the process's own, or a standby's relay). */
export function createAppserviceServer(config: Config, store: Store, log: Logger, botUserId: string, sink: AppserviceSink,
  relay?: AppserviceServerOptions["relay"]): AppserviceServer {
  const registration = config.registration;
  if (!registration) throw new Error("appservice mode needs MATRIX_REGISTRATION");
  return new AppserviceServer({
    host: config.appserviceBind.host, port: config.appserviceBind.port,
    hsToken: registration.hs_token, botUserId,
    userNamespaceRegexes: userNamespaceRegexes(registration),
    bodyLimitBytes: config.timings.appserviceBodyLimitBytes,
    txnStore: store.namespace<AppserviceTxnRecord>("appservice-txn"),
    log: childLogger(log, "appservice"), ...sink, ...(relay ? { relay } : {}),
  });
}

/** A listener opened before the lease: it stores transactions for the active until activate(). */
export interface StandbyListener {
  readonly port: number;
  /** This process holds the lease: what was held is processed now, and every transaction from then on. */
  activate(botUserId: string, sink: ActiveSink): Promise<void>;
  stop(): Promise<void>;
}

/** Opens the listener in appservice mode on a shared store without MATRIX_E2EE; undefined otherwise. */
export async function openStandbyListener(config: Config, store: Store, log: Logger, onTransactionOk: () => void): Promise<StandbyListener | undefined> {
  if (config.mode !== "appservice" || config.e2ee || !config.registration) return undefined;
  const inboxLog = childLogger(log, "appservice");
  const inbox = openInboxStore(parseStoreUrl(config.storeUrl), config.timings.requestTimeoutMs,
    (error) => inboxLog.warn({ err: error.message }, "standby transaction store connection error"));
  if (!inbox) return undefined;
  const held = new HeldTransactions({ store: inbox, log: inboxLog });
  let sink: ActiveSink | undefined;
  const notYet = (): never => {
    throw new Error("the appservice listener is not active yet");
  };
  const server = createAppserviceServer(config, store, log, "", {
    onBatch: (items, opts) => (sink ? sink.onBatch(items, opts) : notYet()),
    onRefusedUnseen: () => sink?.onRefusedUnseen?.(),
    onTransactionOk, // the homeserver is there (readiness), whether this process is the standby or the active
  }, held);
  let port: number;
  try {
    ({ port } = await server.start());
  } catch (error) {
    await held.stop();
    throw error;
  }
  log.info({ host: config.appserviceBind.host, port },
    "appservice listening for transactions; until this process holds the store lease they are stored for the active");
  let stopping: Promise<void> | undefined;
  return {
    port,
    activate: async (botUserId, active) => {
      server.useBotUserId(botUserId);
      sink = active;
      await held.activate((transactions) => server.replayHeld(transactions));
      const { held: count, replayed } = held.counts();
      log.info({ held: count, replayed }, "appservice listener active: transactions are processed here");
    },
    stop: () => (stopping ??= server.stop().then(() => held.stop())),
  };
}
