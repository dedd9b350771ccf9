// /outbox retry [all]: re-queues dead-lettered deliveries (this room's, or every room's). Bot admins only.
import { z } from "zod";
import { defineCommand, oneOf } from "./registry";

const outboxArgs = z.union([
  z.tuple([oneOf("retry")]).transform(() => ({ scope: "room" as const })),
  z.tuple([oneOf("retry"), oneOf("all")]).transform(() => ({ scope: "all" as const })),
]) as unknown as z.ZodType<{ scope: "room" | "all" }, string[]>;

export const outboxCommand = defineCommand({
  name: "outbox",
  summary: "re-queue messages that could not be delivered, here or with \"all\" everywhere (bot admins)",
  usage: "/outbox retry [all]",
  args: outboxArgs,
  permission: "admin",
  async run(ctx, { scope }) {
    const count = await ctx.deps.outbox.retryDead(scope === "all" ? undefined : ctx.roomId);
    ctx.deps.log.info({ roomId: ctx.roomId, scope, count }, "dead letters re-queued by /outbox retry");
    const where = scope === "all" ? "across all rooms" : "for this room";
    if (count === 0) return `There were no undelivered messages to retry ${where}.`;
    return `Re-queued ${count} undelivered message${count === 1 ? "" : "s"} ${where}.`;
  },
});
