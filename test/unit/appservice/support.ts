// A real AppserviceServer on 127.0.0.1:0 over a real sqlite store in a temp dir, with a recording onBatch.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { KeyvStoreAdapter } from "keyv";
import pino from "pino";
import { AppserviceServer, type AppserviceServerOptions, type AppserviceTxnRecord } from "../../../src/matrix/appservice-server";
import type { InboundItem } from "../../../src/matrix/events";
import { openStore, type Store } from "../../../src/store";

export const HS_TOKEN = "hs-secret-token-3f9a1c7e";
export const BOT = "@agentbot:example.org";

export type BatchBehaviour = (items: InboundItem[]) => Promise<void>;

export class AppserviceFixture {
  readonly batches: InboundItem[][] = [];
  /** Every log line the server wrote, raw JSON text. */
  readonly logLines: string[] = [];
  readonly log = pino({ level: "debug" }, { write: (line: string) => void this.logLines.push(line) });
  /** What onBatch does after recording the call; replace it to fail or to block. */
  behaviour: BatchBehaviour = async () => undefined;
  okCount = 0;
  store!: Store;
  server!: AppserviceServer;
  port = 0;
  private readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "mab-appservice-"));

  constructor(
    private readonly overrides: Partial<AppserviceServerOptions> = {},
    private readonly wrapAdapter?: (adapter: KeyvStoreAdapter) => KeyvStoreAdapter,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Every item delivered so far, across batches. */
  get items(): InboundItem[] {
    return this.batches.flat();
  }

  async start(): Promise<this> {
    this.store = await openStore(`sqlite://${path.join(this.dir, "bot.sqlite")}`, {
      logger: pino({ level: "silent" }),
      ...(this.wrapAdapter ? { wrapAdapter: this.wrapAdapter } : {}),
    });
    this.server = new AppserviceServer({
      host: "127.0.0.1",
      port: 0,
      hsToken: HS_TOKEN,
      botUserId: BOT,
      userNamespaceRegexes: [/^@_agent_.*:example\.org$/],
      bodyLimitBytes: 64 * 1024,
      txnStore: this.store.namespace<AppserviceTxnRecord>("appservice-txn"),
      onBatch: async (items) => {
        this.batches.push(items);
        await this.behaviour(items);
      },
      log: this.log,
      onTransactionOk: () => {
        this.okCount += 1;
      },
      stopGraceMs: 2000,
      ...this.overrides,
    });
    this.port = (await this.server.start()).port;
    return this;
  }

  /** Stops the server and closes the store, then opens both again on the same file: a bot restart. */
  async restart(): Promise<void> {
    await this.server.stop();
    await this.store.close();
    await this.start();
  }

  async close(): Promise<void> {
    await this.server.stop();
    await this.store.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** PUT a transaction; `auth` picks how the hs_token travels (or a wrong one / none). */
  async put(txnId: string, body: unknown, opts: { auth?: "header" | "query" | "none"; token?: string; legacy?: boolean } = {}): Promise<{ status: number; body: Record<string, unknown> }> {
    const prefix = opts.legacy ? "" : "/_matrix/app/v1";
    const init: RequestInit = { method: "PUT", body: typeof body === "string" ? body : JSON.stringify(body), headers: { "content-type": "application/json" } };
    return this.request(`${prefix}/transactions/${encodeURIComponent(txnId)}`, init, opts);
  }

  async request(pathAndQuery: string, init: RequestInit, opts: { auth?: "header" | "query" | "none"; token?: string } = {}): Promise<{ status: number; body: Record<string, unknown> }> {
    const token = opts.token ?? HS_TOKEN;
    const url = new URL(pathAndQuery, this.url);
    const headers = new Headers(init.headers);
    const auth = opts.auth ?? "header";
    if (auth === "header") headers.set("authorization", `Bearer ${token}`);
    if (auth === "query") url.searchParams.set("access_token", token);
    const response = await fetch(url, { ...init, headers });
    expect(response.headers.get("content-type")).toBe("application/json");
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }
}

export function message(eventId: string, body: string, roomId = "!room:example.org"): Record<string, unknown> {
  return {
    event_id: eventId, room_id: roomId, sender: "@alice:example.org", type: "m.room.message",
    origin_server_ts: 1_700_000_000_000, content: { msgtype: "m.text", body },
  };
}

/** A promise with its resolve exposed, to hold onBatch until the test lets it go. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** Throws when the secret (or its URL-encoded form) appears in any log line. */
export function expectNoSecretIn(lines: readonly string[], secret: string): void {
  const leaks = lines.filter((line) => line.includes(secret) || line.includes(encodeURIComponent(secret)));
  expect(leaks).toEqual([]);
}
