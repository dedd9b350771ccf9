// Appservice mode, inbound: the homeserver's PUT /transactions (Application Service API v1.11) over node:http.
// A transaction is answered 200 only after `onBatch` made its events durable; if `onBatch` fails the answer is 500
// and the id stays unrecorded, so the homeserver retries the same one. Ids are deduplicated durably (txnStore, with
// a digest of the event ids: looked up until the first new one after a start, see lookUpIds) and in memory while in
// flight (concurrent duplicates wait). A known id whose events
// differ is processed: Synapse on SQLite numbers transactions afresh after its restart (from the highest id still
// queued, or 1), and the journal drops whatever was seen already.
// With encryption (`crypto`), the transaction's to-device messages, device lists and key counts feed the bot's device
// before its events are decrypted and journaled, and the crypto store is saved before the 200 (appservice-crypto.ts).
// With a standby (`relay`, src/app/appservice-standby.ts): while holding, a new transaction is stored for the active
// and answered 200; the active processes what was held (replayHeld) before each transaction of its own.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type Keyv from "keyv";
import type { Logger } from "pino";
import {
  ROUTE_METHOD, authenticate, hasBody, itemsFromTransaction, matchRoute, readBody, reply, transactionBodySchema, type TransactionBody,
  type TransactionRelay,
} from "./appservice-protocol";
import { applyTransactionCrypto, transactionDigest, type TransactionCrypto } from "./appservice-crypto";
import type { InboundBatchOptions, InboundBatchResult, InboundItem } from "./events";
import { checkpoint } from "../util/checkpoints";
import { closeGracefully, listen } from "./http-listen";

/** What txnStore keeps per completed transaction id. */
export interface AppserviceTxnRecord {
  doneAt: number;
  /** Digest of the transaction's event ids (see digestOf); absent in records written before it was kept. */
  events?: string;
}

export interface AppserviceServerOptions {
  host: string;
  /** 0: any free port (see the port `start()` returns). */
  port: number;
  hsToken: string;
  /** Answered as existing by the users query, like every id matching `userNamespaceRegexes`. */
  botUserId: string;
  userNamespaceRegexes: RegExp[];
  /** Larger request bodies are refused with 413 M_TOO_LARGE without being read to the end. */
  bodyLimitBytes: number;
  /** The store namespace "appservice-txn": completed transaction ids. */
  txnStore: Keyv<AppserviceTxnRecord>;
  /**
   * Makes the items durable; throws when it could not (the transaction is then answered 500). A result saying it
   * journaled nothing (strangers' messages, the bot's own) leaves no record of the transaction id either.
   */
  onBatch: (items: InboundItem[], opts?: InboundBatchOptions) => Promise<InboundBatchResult | void>;
  log: Logger;
  /** Called after each transaction answered 200 (processed now or earlier). */
  onTransactionOk?: () => void;
  /** Called when a transaction is refused before onBatch saw it (its id could not be looked up): for the counts. */
  onRefusedUnseen?: () => void;
  /** How long a completed transaction id is remembered. Default 3 days. */
  txnTtlMs?: number;
  /** Longest time a client may take to send a whole request. Default 60 s. */
  requestTimeoutMs?: number;
  /** How long stop() waits for transactions being processed before cutting connections. Default 10 s. */
  stopGraceMs?: number;
  /** End-to-end encryption (MATRIX_E2EE=true): the bot's device is fed from transactions. */
  crypto?: TransactionCrypto;
  /** A standby and its active (src/inbox/held-transactions.ts): holding, transactions are stored for the active. */
  relay?: TransactionRelay;
}

interface Outcome {
  status: number;
  body: Record<string, unknown>;
  /** Room keys the transaction brought to the bot's device (they are in the saved crypto store). */
  roomKeys?: number;
}

const OK: Outcome = { status: 200, body: {} };
const NOT_STORED: Outcome = {
  status: 500,
  body: { errcode: "M_UNKNOWN", error: "The transaction could not be stored; retry it later." },
};

const RECENT_TXN_IDS = 1000;

export class AppserviceServer {
  private server: http.Server | undefined;
  private stopping: Promise<void> | undefined;
  /** By txn id and digest. */
  private readonly inFlight = new Map<string, Promise<Outcome>>();
  /** Transactions processed by this process (id → digest) whose id may not be stored yet (bounded, oldest dropped first). */
  private readonly recentlyDone = new Map<string, string>();
  private reuseLogged = false;
  /**
   * Whether an id not in `recentlyDone` is looked up in txnStore (a read before the 200): until this process has
   * processed one transaction the store did not know. The homeserver sends one transaction at a time and retries the
   * oldest unanswered one first, so what the last process answered (the 200 lost in its crash) comes before anything
   * new; after that, an id missing from `recentlyDone` is new, and a redelivery the lookup would have caught anyway
   * is deduplicated by the journal (by event id). Always looked up with encryption (to-device messages are not
   * journaled) and by a standby (it holds what it does not know).
   */
  private lookUpIds = true;
  private readonly active = new Set<Promise<void>>();
  /** Known once active (a standby needs it for nothing: it only stores what it is sent). */
  private botUserId: string;

  constructor(private readonly opts: AppserviceServerOptions) {
    this.botUserId = opts.botUserId;
  }

  /** A standby that took over: the bot's user id, known now. */
  useBotUserId(botUserId: string): void {
    this.botUserId = botUserId;
  }

  /**
   * Transactions a standby held (TransactionRelay), oldest first, processed through the path of this process's own:
   * those seen before (by id and digest) are dropped, the events of the others journaled in one batch. Each is "done"
   * or "invalid" (not a transaction body); "refused" when they could not be made durable (they stay held).
   */
  async replayHeld(held: ReadonlyArray<{ txnId: string; body: unknown }>): Promise<Array<"done" | "invalid"> | "refused"> {
    const parsed = held.map(({ txnId, body }) => ({ txnId, parsed: safely(() => transactionBodySchema.safeParse(body)) }));
    const valid = parsed.flatMap(({ txnId, parsed: p }) => (p?.success ? [{ txnId, body: p.data, digest: transactionDigest(p.data) }] : []));
    const outcomes = parsed.map((p) => (p.parsed?.success ? "done" as const : "invalid" as const));
    if (this.opts.crypto) { // each on its own: its crypto fields feed the device before its events are read
      for (const v of valid) if ((await this.process(v.txnId, v.digest, v.body, "held")).status !== 200) return "refused";
      return outcomes;
    }
    try {
      const stored = await this.opts.txnStore.getMany(valid.map((v) => v.txnId));
      const fresh = valid.filter((v, i) => (this.recentlyDone.get(v.txnId) ?? stored[i]?.events) !== v.digest);
      if (fresh.length === 0) return outcomes;
      const result = await this.opts.onBatch(fresh.flatMap((v) => itemsFromTransaction(v.body.events, this.botUserId, this.opts.log, v.txnId)));
      if (result?.journaled !== 0) for (const v of fresh) this.remember(v.txnId, v.digest, false);
      this.opts.log.debug({ transactions: held.length, fresh: fresh.length }, "transactions a standby held accepted");
      return outcomes;
    } catch (error) {
      this.opts.log.warn({ transactions: held.length, err: describe(error) }, "transactions a standby held could not be made durable yet");
      return "refused";
    }
  }

  /** Listens on host:port; resolves with the bound port. */
  async start(): Promise<{ port: number }> {
    if (this.server) throw new Error("appservice server already started");
    const requestTimeout = this.opts.requestTimeoutMs ?? 60_000;
    const server = http.createServer({ requestTimeout, headersTimeout: requestTimeout }, (req, res) => {
      const done = this.handle(req, res).catch((error: unknown) => this.failed(res, error));
      this.active.add(done);
      void done.finally(() => this.active.delete(done));
    });
    this.server = server;
    await listen(server, this.opts.port, this.opts.host).catch((error: unknown) => {
      this.server = undefined;
      throw error;
    });
    server.on("error", (error) => this.opts.log.error({ err: describe(error) }, "appservice server error"));
    const port = (server.address() as AddressInfo).port;
    this.opts.log.info({ host: this.opts.host, port }, "appservice server listening");
    return { port };
  }

  /** Stops listening, lets transactions in progress answer (up to stopGraceMs), then closes connections. Idempotent. */
  stop(): Promise<void> {
    const server = this.server;
    if (!server) return Promise.resolve();
    this.stopping ??= closeGracefully(server, this.active, this.opts.stopGraceMs ?? 10_000)
      .then(() => this.opts.log.info("appservice server stopped"));
    return this.stopping;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    req.on("error", () => undefined); // a client that goes away mid-body must not become an uncaught error
    if (this.stopping) res.shouldKeepAlive = false;
    const url = new URL(req.url ?? "/", "http://appservice.invalid");
    const route = matchRoute(url.pathname);
    if (!route) return reply(res, 404, { errcode: "M_UNRECOGNIZED", error: "Unrecognized request" }, hasBody(req));
    if (req.method !== ROUTE_METHOD[route.kind]) {
      return reply(res, 405, { errcode: "M_UNRECOGNIZED", error: "Unrecognized request method" }, hasBody(req));
    }
    const auth = authenticate(req, url, this.opts.hsToken);
    if (auth === "missing") return reply(res, 401, { errcode: "M_UNAUTHORIZED", error: "No hs_token given" }, hasBody(req));
    if (auth === "wrong") {
      this.opts.log.warn({ route: route.kind }, "appservice request with a wrong hs_token refused");
      return reply(res, 403, { errcode: "M_FORBIDDEN", error: "Wrong hs_token" }, hasBody(req));
    }
    if (this.stopping) return reply(res, 503, { errcode: "M_UNKNOWN", error: "The appservice is shutting down; retry later." }, true);
    const body = await readBody(req, this.opts.bodyLimitBytes);
    if (body === "too_large") {
      this.opts.log.warn({ route: route.kind, limit: this.opts.bodyLimitBytes }, "appservice request body too large");
      return reply(res, 413, { errcode: "M_TOO_LARGE", error: "Request body too large" }, true);
    }
    if (body === "aborted") return reply(res, 400, { errcode: "M_BAD_JSON", error: "Incomplete request body" }, true);
    switch (route.kind) {
      case "transaction":
        return this.transaction(res, route.param, body);
      case "user": {
        const known = route.param === this.botUserId || this.opts.userNamespaceRegexes.some((re) => re.test(route.param));
        return known ? reply(res, 200, {}) : reply(res, 404, { errcode: "M_NOT_FOUND", error: "No such user" });
      }
      case "room":
        return reply(res, 404, { errcode: "M_NOT_FOUND", error: "No such room alias" });
      case "ping":
        return reply(res, 200, {});
    }
  }

  private async transaction(res: http.ServerResponse, txnId: string, raw: Buffer): Promise<void> {
    let json: unknown;
    try {
      json = JSON.parse(raw.toString("utf8"));
    } catch {
      return reply(res, 400, { errcode: "M_NOT_JSON", error: "The body is not JSON" });
    }
    const parsed = safely(() => transactionBodySchema.safeParse(json));
    if (!parsed?.success) {
      return reply(res, 400, { errcode: "M_BAD_JSON", error: "The body must be an object with an events array" });
    }
    const outcome = await this.runOnce(txnId, parsed.data);
    if ((outcome.roomKeys ?? 0) > 0) res.once("finish", () => checkpoint("room-key-acknowledged"));
    reply(res, outcome.status, outcome.body);
    if (outcome.status === 200) this.transactionOk();
  }

  /** Processes txnId once: a duplicate (same id, same events) arriving while it is in flight shares its outcome. */
  private runOnce(txnId: string, body: TransactionBody): Promise<Outcome> {
    const digest = transactionDigest(body);
    const key = `${txnId}\n${digest}`;
    const running = this.inFlight.get(key);
    if (running) {
      this.opts.log.debug({ txnId }, "transaction already in progress; waiting for it");
      return running;
    }
    const run = this.process(txnId, digest, body, "own").finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, run);
    return run;
  }

  private async process(txnId: string, digest: string, body: TransactionBody, from: "own" | "held"): Promise<Outcome> {
    const { events } = body;
    const { log, txnStore, relay } = this.opts;
    const holding = relay?.holding() === true;
    if (from === "own" && relay && !holding) {
      try {
        await relay.beforeOwn(); // what a standby held came first
      } catch (error) {
        log.error({ txnId, err: describe(error) }, "transactions a standby held could not be processed first; transaction refused for a retry");
        return NOT_STORED;
      }
    }
    let seen = this.recentlyDone.get(txnId);
    let lookedUp = false;
    if (seen === undefined && (this.lookUpIds || this.opts.crypto || holding)) {
      try {
        lookedUp = true;
        const record = await txnStore.get(txnId);
        if (record !== undefined) seen = record.events ?? "";
      } catch (error) {
        log.error({ txnId, err: describe(error) }, "transaction store unavailable; transaction refused for a retry");
        this.opts.onRefusedUnseen?.();
        return NOT_STORED;
      }
    }
    if (seen === digest) {
      log.debug({ txnId }, "transaction already processed; acknowledged again");
      return OK;
    }
    if (holding && relay) return this.hold(relay, txnId, body);
    if (seen !== undefined) this.reused(txnId, seen);
    let result: InboundBatchResult | void;
    let crypto = { toDevice: 0, roomKeys: 0 };
    const id = this.idRecord(txnId, digest);
    try {
      let items = itemsFromTransaction(events, this.botUserId, log, txnId);
      if (this.opts.crypto) ({ items, ...crypto } = await applyTransactionCrypto(this.opts.crypto, body, items));
      result = await this.opts.onBatch(items, id.options);
      // What the device took from this transaction (room keys, Olm sessions) is on disk before the 200.
      await this.opts.crypto?.hook.afterBatch();
      log.debug({ txnId, events: events.length, items: items.length, toDevice: crypto.toDevice }, "transaction accepted");
    } catch (error) {
      log.error({ txnId, err: describe(error) }, "transaction could not be made durable; refused for a retry");
      return NOT_STORED;
    }
    if (id.written || result?.journaled !== 0 || crypto.toDevice > 0) this.remember(txnId, digest, id.written);
    if (lookedUp && seen === undefined) this.lookUpIds = false; // one the store did not know: the retries came first
    return crypto.roomKeys > 0 ? { ...OK, roomKeys: crypto.roomKeys } : OK;
  }

  /** A standby: the transaction stored for the active, then answered 200 (its id is recorded by the active). */
  private async hold(relay: TransactionRelay, txnId: string, body: TransactionBody): Promise<Outcome> {
    try {
      await relay.hold(txnId, body);
      return OK;
    } catch (error) {
      this.opts.log.error({ txnId, err: describe(error) }, "standby: transaction could not be stored for the active; refused for a retry");
      return NOT_STORED;
    }
  }

  /** A known id with other events (or an old record without a digest): processed; the journal dedupes by event id. */
  private reused(txnId: string, seen: string): void {
    if (seen === "" || this.reuseLogged) {
      this.opts.log.debug({ txnId }, "transaction id seen before with other events; processing them");
      return;
    }
    this.reuseLogged = true;
    this.opts.log.warn({ txnId },
      "the homeserver reused a transaction id for other events (Synapse on SQLite does after its restart); processing them, already seen events are dropped by the journal");
  }

  /**
   * The id's record written alongside the journal's writes (InboundBatchOptions: on a store that applies writes in
   * issue order it shares their commit and is never durable without them; `written` once asked), or not at all here.
   * Not with encryption: the crypto store is saved after the journal (afterBatch), and until both are on disk the id
   * must not be: to-device messages are not journaled, only a retry of the id feeds them to the device again.
   */
  private idRecord(txnId: string, digest: string): { options: InboundBatchOptions | undefined; written: boolean } {
    const id = { options: undefined as InboundBatchOptions | undefined, written: false };
    if (!this.opts.crypto) id.options = { alongside: () => {
      id.written = true;
      this.writeId(txnId, digest);
    } };
    return id;
  }

  /**
   * The id is done: a retry is answered from `recentlyDone`, and its record is written (`written`: it was, alongside
   * the journal's writes). Not awaited: the events are durable already and the journal dedupes them by event id (for
   * longer than the id is kept), so the 200 need not wait for this write; if it is lost, a redelivery is harmless.
   */
  private remember(txnId: string, digest: string, written: boolean): void {
    this.recentlyDone.delete(txnId);
    this.recentlyDone.set(txnId, digest);
    if (this.recentlyDone.size > RECENT_TXN_IDS) this.recentlyDone.delete(this.recentlyDone.keys().next().value as string);
    if (!written) this.writeId(txnId, digest);
  }

  private writeId(txnId: string, digest: string): void {
    this.opts.txnStore.set(txnId, { doneAt: Date.now(), events: digest }, this.opts.txnTtlMs ?? 3 * 24 * 3600 * 1000).catch((error: unknown) => {
      this.opts.log.warn({ txnId, err: describe(error) }, "transaction processed but its id could not be recorded");
    });
  }

  private transactionOk(): void {
    try {
      this.opts.onTransactionOk?.();
    } catch (error) {
      this.opts.log.warn({ err: describe(error) }, "onTransactionOk hook failed");
    }
  }

  /** Last resort for a handler that threw: answer 500 if nothing was sent, else cut the connection. */
  private failed(res: http.ServerResponse, error: unknown): void {
    try {
      this.opts.log.error({ err: describe(error) }, "appservice request handler failed");
      if (res.headersSent) res.destroy();
      else reply(res, 500, { errcode: "M_UNKNOWN", error: "Internal error" }, true);
    } catch {
      res.destroy();
    }
  }
}

/** The result, or undefined when `run` threw (zod can, on hostile input: see parseRoomEvent). */
function safely<T>(run: () => T): T | undefined {
  try {
    return run();
  } catch {
    return undefined;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
