// Idempotent PUTs, as Synapse 1.67's HttpTransactionCache (synapse/rest/client/transactions.py): the first
// successful answer to a request is replayed for a later request with the same raw path (txnId included, query
// excluded) and the same access token, so two users an appservice masquerades as share a key, and a txnId is
// remembered for a bounded time only: a cleanup every `periodMs` (Synapse: 30 min) drops entries older than
// `periodMs`, so an entry lives between one and two periods. Failed requests are not remembered.

import type { RouteContext } from "./router";

/** Synapse's transaction key of an authenticated request: its raw path and its access token. */
export function txnKeyOf(ctx: RouteContext): string {
  if (!ctx.auth) throw new Error("a transaction key needs an authenticated request");
  const rawPath = new URL(ctx.req.url ?? "/", "http://127.0.0.1").pathname;
  return `${rawPath}/${ctx.auth.accessToken}`;
}

export class TxnCache {
  private readonly entries = new Map<string, { body: unknown; at: number }>();
  private lastCleanup: number;

  constructor(private readonly periodMs: number, private readonly now: () => number) {
    this.lastCleanup = now();
  }

  get(key: string): unknown {
    this.cleanup();
    return this.entries.get(key)?.body;
  }

  set(key: string, body: unknown): void {
    this.cleanup();
    this.entries.set(key, { body, at: this.now() });
  }

  get size(): number {
    return this.entries.size;
  }

  /** Synapse's looping call, run lazily: every period that passed removes what is older than a period. */
  private cleanup(): void {
    const now = this.now();
    while (now - this.lastCleanup >= this.periodMs) {
      this.lastCleanup += this.periodMs;
      for (const [key, entry] of this.entries) if (this.lastCleanup > entry.at + this.periodMs) this.entries.delete(key);
    }
  }
}
