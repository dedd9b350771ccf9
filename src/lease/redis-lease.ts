// The lease on Redis: a hash `mab-lease:<name>` {holder, token} with a native expiry (PEXPIRE: Redis's clock), and
// the fencing counter in a hash `mab-lease-fence:<name>` that never expires (so a token is never reused). Each
// change is one Lua script, atomic on the server. Hashes, not strings: the store's listing and store-copy scan
// string keys only, so they never see these.
import type { LeaseRecord, LeaseStore } from "./lease-store";
import { RedisConnection } from "./native-clients";

const ACQUIRE = `
local cur = redis.call('HGET', KEYS[1], 'token')
if cur and cur ~= ARGV[3] then return false end
local t = redis.call('HINCRBY', KEYS[2], 'token', 1)
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'token', tostring(t))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return t`;
const RENEW = `
if redis.call('HGET', KEYS[1], 'holder') == ARGV[1] and redis.call('HGET', KEYS[1], 'token') == ARGV[2] then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0`;
const RELEASE = `
if redis.call('HGET', KEYS[1], 'holder') == ARGV[1] and redis.call('HGET', KEYS[1], 'token') == ARGV[2] then
  redis.call('DEL', KEYS[1])
end
return 0`;

export class RedisLeaseStore implements LeaseStore {
  private readonly redis: RedisConnection;
  private readonly key: string;
  private readonly fence: string;

  constructor(url: string, name: string, timeoutMs: number, onError: (error: Error) => void) {
    this.key = `mab-lease:${name}`;
    this.fence = `mab-lease-fence:${name}`;
    this.redis = new RedisConnection(url, timeoutMs, onError);
  }

  private async run(script: string, args: string[]): Promise<unknown> {
    return (await this.redis.ready()).eval(script, { keys: [this.key, this.fence], arguments: args });
  }

  async acquire(holder: string, ttlMs: number, steal?: number): Promise<number | undefined> {
    const token = await this.run(ACQUIRE, [holder, String(Math.ceil(ttlMs)), steal === undefined ? "" : String(steal)]);
    return token === null || token === undefined ? undefined : Number(token);
  }

  async renew(holder: string, token: number, ttlMs: number): Promise<boolean> {
    return Number(await this.run(RENEW, [holder, String(token), String(Math.ceil(ttlMs))])) === 1;
  }

  async release(holder: string, token: number): Promise<void> {
    await this.run(RELEASE, [holder, String(token)]);
  }

  async read(): Promise<LeaseRecord | undefined> {
    const client = await this.redis.ready();
    const [fields, pttl] = await Promise.all([client.hGetAll(this.key), client.pTTL(this.key)]);
    const holder = fields["holder"];
    const token = fields["token"];
    if (holder === undefined || token === undefined) return undefined;
    return { holder, token: Number(token), remainingMs: Math.max(0, Number(pttl)) };
  }

  async close(): Promise<void> {
    await this.redis.close();
  }
}
