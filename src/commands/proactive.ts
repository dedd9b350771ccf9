// /proactive [on|off]: whether agent-initiated messages ("proactive" runs for every opted-in room) come here.
import { defineCommand, optionalWord } from "./registry";

export const proactiveCommand = defineCommand({
  name: "proactive",
  summary: "show or switch messages the agent sends on its own initiative in this room",
  usage: "/proactive [on|off]",
  args: optionalWord("on", "off"),
  permission: (choice) => (choice === undefined ? "anyone" : "settings"),
  async run(ctx, choice) {
    // The opt-in is per room and agent: it concerns the agent answering here now.
    const settings = ctx.deps.agents ? await ctx.deps.agents.proactiveSettings(ctx.roomId) : ctx.deps.settings;
    if (choice === undefined) {
      const on = await settings.isProactive(ctx.roomId);
      return on
        ? "Proactive messages are on in this room. Send /proactive off to stop them."
        : "Proactive messages are off in this room. Send /proactive on to receive them.";
    }
    await settings.setProactive(ctx.roomId, choice === "on");
    return choice === "on"
      ? "Proactive messages are now on in this room."
      : "Proactive messages are now off in this room.";
  },
});
