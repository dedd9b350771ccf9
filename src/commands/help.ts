// /help: every command, one line each, generated from the registry.
import { defineCommand, noArgs } from "./registry";

export const HELP_FOOTER = [
  "Commands also work as !name (Element keeps unknown /commands to itself) or after my name: \"@bot name\".",
  "In group rooms I answer an unknown command only when you mention me; a bare !command may be meant for another bot.",
];

export const helpCommand = defineCommand({
  name: "help",
  summary: "list the commands",
  usage: "/help",
  args: noArgs,
  permission: "anyone",
  async run(ctx) {
    const lines = ctx.commands.map((c) => `${c.usage} — ${c.summary}`);
    return ["Commands:", ...lines, ...HELP_FOOTER].join("\n");
  },
});
