// The standby's transaction queue on Redis: a stream `mab-inbox:<name>` (XADD, XRANGE, XDEL; ids in arrival order).
// Not a string key: the store's listing and store-copy scan string keys only, so they never see it.
import { RedisConnection } from "../lease/native-clients";
import type { HeldTransaction, InboxStore } from "./inbox-store";

export class RedisInboxStore implements InboxStore {
  private readonly redis: RedisConnection;
  private readonly key: string;

  constructor(url: string, name: string, timeoutMs: number, onError: (error: Error) => void) {
    this.key = `mab-inbox:${name}`;
    this.redis = new RedisConnection(url, timeoutMs, onError);
  }

  async add(txnId: string, body: string): Promise<void> {
    await (await this.redis.ready()).xAdd(this.key, "*", { txn: txnId, body });
  }

  async list(limit: number): Promise<HeldTransaction[]> {
    const entries = await (await this.redis.ready()).xRange(this.key, "-", "+", { COUNT: limit });
    return entries.map((entry) => ({ id: entry.id, txnId: String(entry.message["txn"] ?? ""), body: String(entry.message["body"] ?? "") }));
  }

  async remove(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await (await this.redis.ready()).xDel(this.key, [...ids]);
  }

  async close(): Promise<void> {
    await this.redis.close();
  }
}
