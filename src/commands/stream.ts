// /stream [on|off]: whether answers here are shown as they are written (one message, edited live) or only when
// complete. The room's MSC4357 state (live messaging turned off) wins over it.
import { defineCommand, optionalWord } from "./registry";

export const streamCommand = defineCommand({
  name: "stream",
  summary: "show or switch whether answers here appear as they are written",
  usage: "/stream [on|off]",
  args: optionalWord("on", "off"),
  permission: (choice) => (choice === undefined ? "anyone" : "settings"),
  async run(ctx, choice) {
    const { settings, streaming } = ctx.deps;
    const roomAllows = streaming ? await streaming.roomAllows(ctx.roomId) : true;
    const blocked = roomAllows ? "" : " This room turned live messages off (its live messaging setting), so answers appear only when complete.";
    if (choice === undefined) {
      const setting = (await settings.get(ctx.roomId)).streaming;
      const on = setting === undefined ? (streaming?.defaultMode ?? "edits") === "edits" : setting === "on";
      const source = setting === undefined ? " (the bot's default)" : "";
      return on
        ? `Live answers are on here${source}: answers appear as they are written. Send /stream off to get them only when complete.${blocked}`
        : `Live answers are off here${source}: answers appear when complete. Send /stream on to see them as they are written.${blocked}`;
    }
    await settings.update(ctx.roomId, { streaming: choice });
    return choice === "on"
      ? `Live answers are now on here: answers appear as they are written.${blocked}`
      : "Live answers are now off here: answers appear when complete.";
  },
});
