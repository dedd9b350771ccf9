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
//   - the entries without expiry of OPEN_LISTED_NAMESPACES are listed from a set per namespace (open-entries.ts),
//     kept in the same MULTI (or script) as each write of such a key.
import KeyvRedis, { type RedisClientType } from "@keyv/redis";
import { openListedNamespace } from "./open-entries";

const SCAN_COUNT = 1000;

/** The set that holds a listed namespace's keys written without a ttl (a set: never listed as an entry). */
export function openSetKey(namespace: string): string {
  return `~open:${namespace}`;
}

/** SET NX per key (ARGV: value, px or "", open set or ""); a key it wrote joins (no ttl) or leaves (ttl) its open set. */
const INSERT_SCRIPT = `local out = {}
for i = 1, #KEYS do
  local value, px, set = ARGV[3 * i - 2], ARGV[3 * i - 1], ARGV[3 * i]
  local ok
  if px == '' then ok = redis.call('SET', KEYS[i], value, 'NX') else ok = redis.call('SET', KEYS[i], value, 'NX', 'PX', px) end
  if ok then
    out[i] = 1
    if set ~= '' then
      if px == '' then redis.call('SADD', set, KEYS[i]) else redis.call('SREM', set, KEYS[i]) end
    end
  else
    out[i] = 0
  end
end
return out`;

function pxOf(ttl: number | undefined): number | undefined {
  return typeof ttl === "number" && Number.isFinite(ttl) && ttl > 0 ? Math.max(1, Math.ceil(ttl)) : undefined;
}

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
    const px = pxOf(ttl);
    const listed = openListedNamespace(key);
    if (listed === undefined) {
      await super.set(key, value, px);
      return;
    }
    const client = (await this.getClient()) as RedisClientType;
    const multi = client.multi().set(key, value, px === undefined ? {} : { expiration: { type: "PX", value: px } });
    await (px === undefined ? multi.sAdd(openSetKey(listed), key) : multi.sRem(openSetKey(listed), key)).exec();
  }

  override async delete(key: string): Promise<boolean> {
    const listed = openListedNamespace(key);
    if (listed === undefined) return super.delete(key);
    const client = (await this.getClient()) as RedisClientType;
    const [deleted] = await client.multi().del(key).sRem(openSetKey(listed), key).exec();
    return Number(deleted) > 0;
  }

  override async deleteMany(keys: string[]): Promise<boolean> {
    if (!keys.some((key) => openListedNamespace(key) !== undefined)) return super.deleteMany(keys);
    const client = (await this.getClient()) as RedisClientType;
    const multi = client.multi();
    for (const key of keys) {
      const listed = openListedNamespace(key);
      multi.del(key);
      if (listed !== undefined) multi.sRem(openSetKey(listed), key);
    }
    const replies = await multi.exec();
    let i = 0;
    let any = false;
    for (const key of keys) {
      if (Number(replies[i]) > 0) any = true;
      i += openListedNamespace(key) === undefined ? 1 : 2;
    }
    return any;
  }

  /**
   * Yields `[key, value]` of the entries of a listed namespace written without a ttl (open-entries.ts): the members of
   * its set, read in pages. A member whose key is gone (deleted by something other than this adapter) is dropped.
   */
  async *listOpen(namespace: string): AsyncGenerator<[string, unknown], void> {
    const client = (await this.getClient()) as RedisClientType;
    const set = openSetKey(namespace);
    let cursor = "0";
    do {
      const page = await client.sScan(set, cursor, { COUNT: SCAN_COUNT });
      cursor = String(page.cursor);
      if (page.members.length === 0) continue;
      const members = page.members.map(String);
      const values = await client.mGet(members);
      const gone: string[] = [];
      for (const [i, key] of members.entries()) {
        const value = values[i];
        if (value === null || value === undefined) gone.push(key);
        else yield [key, value];
      }
      if (gone.length > 0) await client.sRem(set, gone);
    } while (cursor !== "0");
  }

  /**
   * Writes each entry whose key is absent (`SET … NX`; Redis drops expired keys itself), leaves the others; says per
   * entry whether it wrote it. One round trip (MULTI), no read before it: the journal's append
   * (src/store/insert-if-absent.ts).
   */
  async insertIfAbsent(entries: ReadonlyArray<{ key: string; value: string; ttl?: number }>): Promise<boolean[]> {
    if (entries.length === 0) return [];
    const client = (await this.getClient()) as RedisClientType;
    if (entries.some(({ key }) => openListedNamespace(key) !== undefined)) {
      const args = entries.flatMap(({ key, value, ttl }) => {
        const listed = openListedNamespace(key);
        return [value, String(pxOf(ttl) ?? ""), listed === undefined ? "" : openSetKey(listed)];
      });
      const replies = (await client.eval(INSERT_SCRIPT, { keys: entries.map((e) => e.key), arguments: args })) as unknown[];
      return replies.map((reply) => Number(reply) === 1);
    }
    const multi = client.multi();
    for (const { key, value, ttl } of entries) {
      const px = pxOf(ttl);
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
