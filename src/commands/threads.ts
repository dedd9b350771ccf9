// /threads [follow|mention]: in a group room, whether a Matrix thread the bot was asked in counts as addressing it for
// that thread's later messages (follow, the default), or only mentions and replies do (mention).
import { defineCommand, optionalWord } from "./registry";

const MEANING = {
  follow: "in a thread where I was asked something, I answer every later message there, no mention needed",
  mention: "in threads too, I answer only when you mention me or reply to me",
} as const;

export const threadsCommand = defineCommand({
  name: "threads",
  summary: "show or switch whether I follow threads I was asked in: follow or mention",
  usage: "/threads [follow|mention]",
  args: optionalWord("follow", "mention"),
  permission: (choice) => (choice === undefined ? "anyone" : "settings"),
  async run(ctx, choice) {
    const dmNote = ctx.isDirect ? " (In a direct chat I answer every message, threads included.)" : "";
    if (choice === undefined) {
      const { threads } = await ctx.deps.settings.get(ctx.roomId);
      return `Threads here: ${threads}: ${MEANING[threads]}.${dmNote}`;
    }
    await ctx.deps.settings.update(ctx.roomId, { threads: choice });
    return `Threads set to ${choice}: ${MEANING[choice]}.${dmNote}`;
  },
});
