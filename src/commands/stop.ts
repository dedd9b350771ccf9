// /stop: cancels the agent run in flight for the conversation the command was sent in.
import { defineCommand, noArgs } from "./registry";

export const stopCommand = defineCommand({
  name: "stop",
  summary: "stop the reply I am working on",
  usage: "/stop",
  args: noArgs,
  permission: "anyone",
  async run(ctx) {
    const stopped = ctx.deps.pipeline.cancel(ctx.threadKey);
    ctx.deps.log.info({ roomId: ctx.roomId, stopped }, "/stop");
    return stopped ? "Stopped the reply I was working on." : "Nothing was running, so there was nothing to stop.";
  },
});
