// Daily token limits (USAGE_LIMIT_TOKENS_PER_USER_DAY, USAGE_LIMIT_TOKENS_PER_ROOM_DAY): a run is refused when its
// user or its room has already used its limit today (UTC). A run under the limit may end above it: what a run will
// cost is known only at its end.
import { FAILURE_TEXTS } from "../turns/failure-text";
import { resetInWords, tokens, utcDay } from "./days";
import type { UsageLedger } from "./ledger";

/** Unset: no limit. */
export interface UsageLimits {
  perUserDay?: number;
  perRoomDay?: number;
}

export interface LimitReached {
  scope: "user" | "room";
  used: number;
  limit: number;
}

export function hasLimits(limits: UsageLimits): boolean {
  return limits.perUserDay !== undefined || limits.perRoomDay !== undefined;
}

/** The first limit `who` has reached today, if any (the user's first). */
export async function limitReached(ledger: UsageLedger, limits: UsageLimits, who: { roomId: string; userId: string },
  now: number): Promise<LimitReached | undefined> {
  const day = utcDay(now);
  if (limits.perUserDay !== undefined) {
    const used = (await ledger.usage(day, { user: who.userId })).total.totalTokens;
    if (used >= limits.perUserDay) return { scope: "user", used, limit: limits.perUserDay };
  }
  if (limits.perRoomDay !== undefined) {
    const used = (await ledger.usage(day, { room: who.roomId })).total.totalTokens;
    if (used >= limits.perRoomDay) return { scope: "room", used, limit: limits.perRoomDay };
  }
  return undefined;
}

/** What the user reads: whose limit, how much of it is used, and when it resets. */
export function limitText(reached: LimitReached, now: number): string {
  const whose = reached.scope === "user" ? "You have" : "This room has";
  return `${FAILURE_TEXTS.usage_limit} ${whose} used ${tokens(reached.used)} of ${tokens(reached.limit)} tokens today; `
    + `the limit resets ${resetInWords(now)}.`;
}
