// Token usage summed per UTC day, durable in the store (namespace "usage"), keyed by agent name inside each record:
//   d:<day>:room:<roomId>  d:<day>:user:<userId>  → { agents: { <agent>: totals } }
//   d:<day>:all                                    → the same, every room and user together
//   d:<day>:index                                  → { rooms, users } that used tokens that day (for admins' view)
// Every record expires `keepDays` after its last write, so the store stays bounded. keyv has no atomic add: each
// record's read-add-write runs under a per-key lock (one bot process per store).
import type Keyv from "keyv";
import type { Logger } from "pino";
import { z } from "zod";
import { KeyedLock } from "../util/keyed-lock";
import { DAY_MS } from "./days";
import { addTotals, UsageTotalsSchema, ZERO_TOTALS, type UsageTotals } from "./token-usage";

export const USAGE_NAMESPACE = "usage";
/** Days a day's records are kept after their last write (what /usage shows reaches back less far). */
export const USAGE_KEEP_DAYS = 35;
/** Rooms and users listed per day in the index at most (counting goes on beyond; the list says it is cut). */
export const USAGE_INDEX_MAX = 1000;

const RecordSchema = z.object({ agents: z.record(z.string(), UsageTotalsSchema) });
type UsageRecord = z.infer<typeof RecordSchema>;
const IndexSchema = z.object({ rooms: z.array(z.string()), users: z.array(z.string()), cut: z.boolean() });
export type DayIndex = z.infer<typeof IndexSchema>;

export type UsageScope = { room: string } | { user: string } | "all";

/** One day's usage of one scope: per agent, and summed over the agents. */
export interface DayUsage {
  day: string;
  agents: Record<string, UsageTotals>;
  total: UsageTotals;
}

export interface UsageStore {
  namespace<T>(name: string): Keyv<T>;
}

function scopeKey(day: string, scope: UsageScope): string {
  if (scope === "all") return `d:${day}:all`;
  return "room" in scope ? `d:${day}:room:${scope.room}` : `d:${day}:user:${scope.user}`;
}

export class UsageLedger {
  private readonly kv: Keyv<unknown>;
  private readonly lock = new KeyedLock();
  private readonly ttlMs: number;

  constructor(store: UsageStore, private readonly log: Logger, keepDays = USAGE_KEEP_DAYS) {
    this.kv = store.namespace<unknown>(USAGE_NAMESPACE);
    this.ttlMs = keepDays * DAY_MS;
  }

  /** Adds one run's totals on `day` for its room, its user and the whole bot, under the agent's name. */
  async record(day: string, who: { roomId: string; userId: string; agent: string }, totals: UsageTotals): Promise<void> {
    for (const scope of [{ room: who.roomId }, { user: who.userId }, "all"] as const) {
      const key = scopeKey(day, scope);
      await this.lock.run(key, async () => {
        const record = await this.readRecord(key);
        record.agents[who.agent] = addTotals(record.agents[who.agent] ?? ZERO_TOTALS, totals);
        await this.kv.set(key, record, this.ttlMs);
      });
    }
    await this.addToIndex(day, who.roomId, who.userId);
  }

  /** One day's usage of a room, a user, or the whole bot. */
  async usage(day: string, scope: UsageScope): Promise<DayUsage> {
    const { agents } = await this.readRecord(scopeKey(day, scope));
    return { day, agents, total: Object.values(agents).reduce(addTotals, ZERO_TOTALS) };
  }

  /** The rooms and users that used tokens on `day`. */
  async index(day: string): Promise<DayIndex> {
    const raw = await this.kv.get(`d:${day}:index`);
    if (raw === undefined) return { rooms: [], users: [], cut: false };
    const parsed = IndexSchema.safeParse(raw);
    if (parsed.success) return parsed.data;
    this.log.warn({ day }, "usage index unreadable; listed as empty");
    return { rooms: [], users: [], cut: false };
  }

  private async addToIndex(day: string, roomId: string, userId: string): Promise<void> {
    const key = `d:${day}:index`;
    await this.lock.run(key, async () => {
      const index = await this.index(day);
      let changed = false;
      for (const [list, id] of [[index.rooms, roomId], [index.users, userId]] as const) {
        if (list.includes(id)) continue;
        if (list.length >= USAGE_INDEX_MAX) index.cut = true;
        else list.push(id);
        changed = true;
      }
      if (changed) await this.kv.set(key, index, this.ttlMs);
    });
  }

  /** A record, or an empty one (a record that does not parse is logged and counted as empty from then on). */
  private async readRecord(key: string): Promise<UsageRecord> {
    const raw = await this.kv.get(key);
    if (raw === undefined) return { agents: {} };
    const parsed = RecordSchema.safeParse(raw);
    if (parsed.success) return parsed.data;
    this.log.warn({ key: key.slice(0, 200) }, "usage record unreadable; counted from zero");
    return { agents: {} };
  }
}
