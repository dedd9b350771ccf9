// Usage is counted per UTC day: a day's name, the days before it, and when the next one starts, in words.

export const DAY_MS = 86_400_000;

/** The UTC day of an instant, "2026-03-01". */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The next UTC midnight after `ms` (when a day's limits reset). */
export function nextUtcMidnight(ms: number): number {
  return (Math.floor(ms / DAY_MS) + 1) * DAY_MS;
}

/** `count` UTC days ending with the day of `ms`, newest first. */
export function recentDays(ms: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => utcDay(ms - i * DAY_MS));
}

function unit(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** A wait as people say it: "3 hours and 12 minutes", "45 minutes", "less than a minute". */
export function durationInWords(ms: number): string {
  const minutes = Math.floor(Math.max(0, ms) / 60_000);
  if (minutes === 0) return "less than a minute";
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours === 0) return unit(rest, "minute");
  return rest === 0 ? unit(hours, "hour") : `${unit(hours, "hour")} and ${unit(rest, "minute")}`;
}

/** When the day of `now` ends, in words: "at midnight UTC, in 3 hours and 12 minutes". */
export function resetInWords(now: number): string {
  return `at midnight UTC, in ${durationInWords(nextUtcMidnight(now) - now)}`;
}

/** A token count as people read it: 12,345. */
export function tokens(n: number): string {
  return n.toLocaleString("en-US");
}
