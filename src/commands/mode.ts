// /mode [mention|all]: in group rooms, answer only when addressed, or every message.
import { defineCommand, optionalWord } from "./registry";

const MEANING = {
  mention: "I answer when you mention me or reply to me",
  all: "I answer every message",
} as const;

export const modeCommand = defineCommand({
  name: "mode",
  summary: "show or switch when I answer in a group room: mention or all",
  usage: "/mode [mention|all]",
  args: optionalWord("mention", "all"),
  permission: (choice) => (choice === undefined ? "anyone" : "settings"),
  async run(ctx, choice) {
    const dmNote = ctx.isDirect ? " (In a direct chat I answer every message whatever the mode.)" : "";
    if (choice === undefined) {
      const { replyMode } = await ctx.deps.settings.get(ctx.roomId);
      return `Reply mode here: ${replyMode}: ${MEANING[replyMode]}.${dmNote}`;
    }
    await ctx.deps.settings.update(ctx.roomId, { replyMode: choice });
    return `Reply mode set to ${choice}: ${MEANING[choice]}.${dmNote}`;
  },
});
