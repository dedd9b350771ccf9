// /toollines [on|off] and /details [on|off]: what the room sees of the agent's work besides its answer. The status
// line of tool calls and steps shows while they run either way; /toollines says whether it stays in the finished
// answer. /details shows each tool call's arguments and result and the agent's thinking, folded under the line.
import { defineCommand, optionalWord } from "./registry";

export const toolLinesCommand = defineCommand({
  name: "toollines",
  summary: "show or switch whether the agent's tool lines stay in its answers here",
  usage: "/toollines [on|off]",
  args: optionalWord("on", "off"),
  permission: (choice) => (choice === undefined ? "anyone" : "settings"),
  async run(ctx, choice) {
    if (choice === undefined) {
      const setting = (await ctx.deps.settings.get(ctx.roomId)).toolLines;
      return setting === "off"
        ? "Tool lines are off here: the agent's tool calls show while they run and are gone from the finished answer. Send /toollines on to keep them."
        : `Tool lines are on here${setting === undefined ? " (the default)" : ""}: the agent's tool calls stay above its answer (🔧 running, ✓ done, ✗ failed). Send /toollines off to drop them once the answer is complete.`;
    }
    await ctx.deps.settings.update(ctx.roomId, { toolLines: choice });
    return choice === "on"
      ? "Tool lines are now on here: the agent's tool calls stay above its answers."
      : "Tool lines are now off here: the agent's tool calls show while they run, then are gone from the finished answer.";
  },
});

export const detailsCommand = defineCommand({
  name: "details",
  summary: "show or switch whether tool arguments, results and the agent's thinking are shown (folded) here",
  usage: "/details [on|off]",
  args: optionalWord("on", "off"),
  permission: (choice) => (choice === undefined ? "anyone" : "settings"),
  async run(ctx, choice) {
    if (choice === undefined) {
      const setting = (await ctx.deps.settings.get(ctx.roomId)).details;
      return setting === "on"
        ? "Details are on here: each tool call's arguments and result and the agent's thinking are shown, folded, above its answers. Send /details off to hide them."
        : `Details are off here${setting === undefined ? " (the default)" : ""}: only the tool lines are shown, never the arguments, results or the agent's thinking. Send /details on to show them, folded.`;
    }
    await ctx.deps.settings.update(ctx.roomId, { details: choice });
    return choice === "on"
      ? "Details are now on here: tool arguments and results and the agent's thinking are shown, folded, above its answers (cut when long). Everyone in the room sees them."
      : "Details are now off here: only the tool lines are shown.";
  },
});
