// /usage: the tokens this room's agent runs used today (UTC) and on recent days, the sender's own today, and the
// daily limits; `/usage all` (bot admins): the whole bot today, every room and every person, most first.
import { z } from "zod";
import { resetInWords, recentDays, tokens, utcDay } from "../usage/days";
import type { DayUsage } from "../usage/ledger";
import type { UsageTotals } from "../usage/token-usage";
import { defineCommand, oneOf } from "./registry";

/** Days /usage shows: today and the days before it. */
export const USAGE_DAYS_SHOWN = 7;
/** Rooms and people `/usage all` lists at most. */
export const USAGE_TOP = 20;

const usageArgs = z.union([
  z.tuple([]).transform(() => ({ scope: "room" as const })),
  z.tuple([oneOf("all")]).transform(() => ({ scope: "all" as const })),
]) as unknown as z.ZodType<{ scope: "room" | "all" }, string[]>;

function describe(t: UsageTotals): string {
  if (t.runs === 0) return "nothing";
  return `${tokens(t.totalTokens)} tokens (${tokens(t.inputTokens)} in, ${tokens(t.outputTokens)} out) in ${t.runs} run${t.runs === 1 ? "" : "s"}`;
}

/** "By agent: default 1,200 · coder 300", when more than one agent was used. */
function byAgent(usage: DayUsage): string[] {
  const names = Object.keys(usage.agents);
  if (names.length < 2) return [];
  return [`  By agent: ${names.map((n) => `${n} ${tokens(usage.agents[n]?.totalTokens ?? 0)}`).join(" · ")}`];
}

function limitLine(limit: number | undefined, used: number, per: string, now: number): string[] {
  if (limit === undefined) return [];
  return [`  Daily limit: ${tokens(limit)} tokens ${per}${used >= limit ? " (reached)" : ""}; it resets ${resetInWords(now)}.`];
}

export const usageCommand = defineCommand({
  name: "usage",
  summary: "show the tokens used here today and on recent days; \"all\": every room and person (bot admins)",
  usage: "/usage [all]",
  args: usageArgs,
  permission: ({ scope }) => (scope === "all" ? "admin" : "anyone"),
  async run(ctx, { scope }) {
    const usage = ctx.deps.usage;
    if (!usage) return "Token usage is not counted by this bot.";
    const now = usage.now();
    const today = utcDay(now);
    const { ledger, limits } = usage;
    if (scope === "all") {
      const whole = await ledger.usage(today, "all");
      const index = await ledger.index(today);
      const rank = async (ids: string[], of: (id: string) => { room: string } | { user: string }) =>
        (await Promise.all(ids.map(async (id) => ({ id, total: (await ledger.usage(today, of(id))).total.totalTokens }))))
          .sort((a, b) => b.total - a.total).slice(0, USAGE_TOP).map((r) => `  ${r.id}: ${tokens(r.total)}`);
      return [
        `Whole bot today (${today}, UTC): ${describe(whole.total)}.`, ...byAgent(whole),
        `Rooms today (${index.rooms.length}${index.cut ? "+" : ""}, most first):`, ...await rank(index.rooms, (room) => ({ room })),
        `People today (${index.users.length}${index.cut ? "+" : ""}, most first):`, ...await rank(index.users, (user) => ({ user })),
      ].join("\n");
    }
    const days = await Promise.all(recentDays(now, USAGE_DAYS_SHOWN).map((day) => ledger.usage(day, { room: ctx.roomId })));
    const [room, ...earlier] = days;
    if (!room) return "No usage to show.";
    const mine = await ledger.usage(today, { user: ctx.sender });
    const past = earlier.filter((d) => d.total.runs > 0).map((d) => `${d.day}: ${tokens(d.total.totalTokens)}`);
    return [
      `This room today (${today}, UTC): ${describe(room.total)}.`,
      ...byAgent(room),
      ...limitLine(limits.perRoomDay, room.total.totalTokens, "per room", now),
      `You today, all rooms: ${describe(mine.total)}.`,
      ...limitLine(limits.perUserDay, mine.total.totalTokens, "per person", now),
      `Earlier days here: ${past.length > 0 ? past.join(" · ") : "nothing"}.`,
    ].join("\n");
  },
});
