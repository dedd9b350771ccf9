// /new [title]: a new chat room in the sender's private space (PROVISION_SPACE), each its own conversation.
import { z } from "zod";
import { defineCommand } from "./registry";

const titleArgs = z.array(z.string()).transform((words) => words.join(" ").trim())
  .pipe(z.string().max(200, "a title of at most 200 characters"));

export const newCommand = defineCommand({
  name: "new",
  summary: "start a new conversation in a fresh room of your private space",
  usage: "/new [title]",
  args: titleArgs,
  permission: "anyone",
  async run(ctx, title) {
    const create = ctx.deps.createChatRoom;
    if (!create) return "Personal spaces are not enabled on this bot, so I can't create a room for you (the operator can turn on PROVISION_SPACE).";
    // The command's event id makes a replay after a crash finish the same room instead of creating a second one.
    const room = await create(ctx.sender, title === "" ? undefined : title, { requestId: ctx.eventId });
    return `Created “${room.title}” in your space and invited you: ${room.roomId}. Talk to me there; it has its own memory.`;
  },
});
