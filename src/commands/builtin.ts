// The built-in commands, in the order /help lists them.
import { agentCommand } from "./agent";
import { newCommand } from "./new";
import { helpCommand } from "./help";
import { modeCommand } from "./mode";
import { outboxCommand } from "./outbox";
import { proactiveCommand } from "./proactive";
import type { CommandDefinition } from "./registry";
import { resetCommand } from "./reset";
import { statusCommand } from "./status";
import { stopCommand } from "./stop";
import { streamCommand } from "./stream";
import { threadsCommand } from "./threads";
import { usageCommand } from "./usage";
import { detailsCommand, toolLinesCommand } from "./work";

export const BUILTIN_COMMANDS: readonly CommandDefinition<unknown>[] = [
  helpCommand, statusCommand, stopCommand, resetCommand, modeCommand, threadsCommand, streamCommand, toolLinesCommand, detailsCommand,
  agentCommand, proactiveCommand, outboxCommand, newCommand, usageCommand,
];
