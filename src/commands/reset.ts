// /reset: a fresh agent conversation for this room (bumps the thread generation, part of every thread key). It ends
// the conversation for everyone in the room, so it needs the settings permission (DESIGN.md).
import { defineCommand, noArgs } from "./registry";

export const resetCommand = defineCommand({
  name: "reset",
  summary: "start a fresh conversation with the agent in this room",
  usage: "/reset",
  args: noArgs,
  permission: "settings",
  async run(ctx) {
    const generation = await ctx.deps.settings.bumpThreadGeneration(ctx.roomId);
    ctx.deps.log.info({ roomId: ctx.roomId, generation }, "thread generation bumped by /reset");
    return "Done: your next message starts a fresh conversation. I won't carry over what was said here before.";
  },
});
