// The Redis adapter the store uses: @keyv/redis's, set up so that a broken Redis is an error, never missing data.
//   - throwOnErrors: @keyv/redis otherwise answers a failed read with "not found" (an event read as not seen, a
//     room as not opted in);
//   - entries expire natively (SET … PX from keyv's ttl): Redis deletes them itself, no sweep needed;
//   - listing a namespace SCANs `<namespace>:*` and yields whole keys (the store's NamespaceView strips the
//     prefix); @keyv/redis's own listing expects its `::` separator and, without a namespace, hides every key that
//     contains `::` (an IPv6 server name in a Matrix id does);
//   - one connection attempt at a time: concurrent first statements share it (node-redis refuses a second
//     connect() while the first is under way); node-redis's own connect timeout (@keyv/redis's leaves a timer
//     running after every connection, which holds a stopping process up to its length).
import KeyvRedis, { type RedisClientType } from "@keyv/redis";

const SCAN_COUNT = 1000;

export class StoreKeyvRedis extends KeyvRedis<string> {
  private connecting: Promise<unknown> | undefined;

  constructor(url: string, connectTimeoutMs: number) {
    super({
      url,
      // A statement while the connection is down fails at once (the caller sees the outage) instead of waiting in
      // node-redis's offline queue; the connection is tried again in the background, at most every 2 s.
      disableOfflineQueue: true,
      socket: { connectTimeout: connectTimeoutMs, reconnectStrategy: (attempt: number) => Math.min(2 ** attempt * 100, 2000) },
    }, { throwOnErrors: true, throwOnConnectError: true, noNamespaceAffectsAll: true });
  }

  override async getClient(): Promise<never> {
    if ((this.client as { isReady?: boolean }).isReady === true) return this.client as never;
    // The first connection: every statement waits for it. A connection lost later (the client open, not ready):
    // statements fail at once while node-redis reconnects.
    if (!this.connecting && this.client.isOpen) return this.client as never;
    this.connecting ??= super.getClient().finally(() => {
      this.connecting = undefined;
    });
    return (await this.connecting) as never;
  }

  /** `ttl` in ms from keyv; Redis's PX takes a whole number. */
  override async set(key: string, value: string, ttl?: number): Promise<void> {
    const px = typeof ttl === "number" && Number.isFinite(ttl) && ttl > 0 ? Math.max(1, Math.ceil(ttl)) : undefined;
    await super.set(key, value, px);
  }

  /**
   * Writes each entry whose key is absent (`SET … NX`; Redis drops expired keys itself), leaves the others; says per
   * entry whether it wrote it. One round trip (MULTI), no read before it: the journal's append
   * (src/store/insert-if-absent.ts).
   */
  async insertIfAbsent(entries: ReadonlyArray<{ key: string; value: string; ttl?: number }>): Promise<boolean[]> {
    if (entries.length === 0) return [];
    const client = (await this.getClient()) as RedisClientType;
    const multi = client.multi();
    for (const { key, value, ttl } of entries) {
      const px = typeof ttl === "number" && Number.isFinite(ttl) && ttl > 0 ? Math.max(1, Math.ceil(ttl)) : undefined;
      multi.set(key, value, { condition: "NX", ...(px === undefined ? {} : { expiration: { type: "PX", value: px } }) });
    }
    const replies = await multi.exec();
    return replies.map((reply) => String(reply) === "OK");
  }

  /** Yields `[key, value]` of every entry whose key starts with `<namespace>:` (every entry without one). */
  override async *iterator<U = string>(namespace?: string): AsyncGenerator<[string, U | undefined], void, unknown> {
    const client = (await this.getClient()) as RedisClientType;
    const match = namespace === undefined ? "*" : `${namespace.replace(/[*?[\]\\]/g, "\\$&")}:*`;
    let cursor = "0";
    do {
      const page = await client.scan(cursor, { MATCH: match, COUNT: SCAN_COUNT, TYPE: "string" });
      cursor = String(page.cursor);
      if (page.keys.length === 0) continue;
      const values = await client.mGet(page.keys);
      for (const [i, key] of page.keys.entries()) {
        const value = values[i];
        // A key that expired between the SCAN and the MGET is gone: not listed.
        if (value !== null && value !== undefined) yield [key, value as U];
      }
    } while (cursor !== "0");
  }
}
