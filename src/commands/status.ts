// /status: the agent link, the store, and this room's pending and dead-lettered deliveries.
import { defineCommand, noArgs } from "./registry";

export const statusCommand = defineCommand({
  name: "status",
  summary: "show the agent link, the storage, and this room's undelivered messages",
  usage: "/status",
  args: noArgs,
  permission: "anyone",
  async run(ctx) {
    const s = await ctx.deps.status(ctx.roomId);
    const lines = [
      `Agent link: ${s.link}.`,
      `Storage: ${s.store === "ok" ? "ok" : "unavailable"}.`,
      `This room: ${plural(s.pending, "message")} waiting to be delivered, ${plural(s.dead, "message")} that could not be delivered.`,
    ];
    if (s.dead > 0) lines.push("A bot admin can send /outbox retry to try those again.");
    return lines.join("\n");
  },
});

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
