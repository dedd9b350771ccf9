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
      ...(s.agents ? [`Agents: ${s.agents.map((a) => `${a.name} ${a.state}${a.here ? " (answers here)" : ""}`).join(", ")}.`] : []),
      `Storage: ${s.store === "ok" ? "ok" : "unavailable"}.`,
      `This room: ${plural(s.pending, "message")} waiting to be delivered, ${plural(s.dead, "message")} that could not be delivered.`,
    ];
    if (s.dead > 0) lines.push("A bot admin can send /outbox retry to try those again.");
    if (s.prompts && s.prompts.length > 0) {
      lines.push(`Waiting for an answer here: ${plural(s.prompts.length, "prompt")}.`);
      const now = Date.now();
      for (const p of s.prompts) {
        const first = [...(p.text.split("\n")[0] ?? "")];
        const minutes = Math.max(0, Math.ceil((p.expiresAt - now) / 60_000));
        lines.push(`- ${KIND_WORDS[p.kind]} for ${p.asker}, expires in ${plural(minutes, "minute")}: ${first.length > 80 ? `${first.slice(0, 79).join("")}…` : first.join("")}`);
      }
    }
    if (s.inbound) lines.push(`Incoming since start: ${plural(s.inbound.poisonedEvents, "event")} skipped as unstorable, ${plural(s.inbound.refusedBatches, "batch", "batches")} refused for a retry.`);
    if (s.work) {
      lines.push(`Whole bot: ${plural(s.work.router, "room event")} being handled (this command included), ${
        plural(s.work.turns, "agent turn")} running or queued, ${plural(s.work.outbox, "message")} on the way out.`);
    }
    return lines.join("\n");
  },
});

const KIND_WORDS = { approval: "an approval", choice: "a choice", text: "a question" } as const;

function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}
