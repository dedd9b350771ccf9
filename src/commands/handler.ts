// Turns a room message into a command run and its one-line(ish) reply. Commands never reach the agent.
//
// Decision table (see parser.ts for the forms):
//   known name, prefixed ("/x", "!x", "@bot !x")     → run it (bad arguments: the usage line)
//   known name, bare after an address ("@bot x")      → run it; bad arguments: not a command (the agent gets it)
//   unknown name, bare after an address               → not a command ("@bot tell me a joke" is for the agent)
//   unknown name, prefixed, in a DM                   → "Unknown command /x. Send /help for the list."
//   unknown name, prefixed, group room, addressed     → the same hint
//   unknown name, prefixed, group room, not addressed → ignored silently (it may be for another bot)
// handle() never throws: failures become a short apology reply and an error log.
import type { RoomEvent } from "../matrix/events";
import { relationOf } from "../turns/classify";
import { BUILTIN_COMMANDS } from "./builtin";
import { parseCommand, type ParsedCommand } from "./parser";
import { PermissionChecker } from "./permissions";
import { CommandRegistry, permissionFor, type CommandContext, type CommandDefinition, type CommandDeps } from "./registry";

export interface CommandFacts {
  isDirect: boolean;
  /** The thread key of the conversation the message belongs to (for /stop). */
  threadKey: string;
}

export interface CommandHandlerOptions {
  /** The command table; default BUILTIN_COMMANDS. */
  commands?: readonly CommandDefinition<unknown>[];
}

export class CommandHandler {
  private readonly registry: CommandRegistry;
  private readonly permissions: PermissionChecker;

  constructor(private readonly deps: CommandDeps, opts: CommandHandlerOptions = {}) {
    this.registry = new CommandRegistry(opts.commands ?? BUILTIN_COMMANDS);
    this.permissions = new PermissionChecker({ http: deps.http, botAdmins: deps.botAdmins, log: deps.log });
  }

  /** The parsed command, without running it (the router may want to know before choosing a path). */
  parse(event: RoomEvent): ParsedCommand | undefined {
    return parseCommand(event, {
      botUserId: this.deps.botUserId,
      ...(this.deps.botDisplayName ? { botDisplayName: this.deps.botDisplayName } : {}),
    });
  }

  /**
   * True when the message was a command: it was answered (or, for an unaddressed unknown "!x" in a group
   * room, deliberately ignored) and must not go to the agent. False: treat it as an ordinary message.
   */
  async handle(event: RoomEvent, facts: CommandFacts): Promise<boolean> {
    let parsed: ParsedCommand | undefined;
    try {
      parsed = this.parse(event);
    } catch (e) {
      this.deps.log.error({ roomId: event.room_id, eventId: event.event_id, err: String(e) }, "command parsing failed");
      return false;
    }
    if (!parsed) return false;
    const command = this.registry.get(parsed.name);
    const typed = parsed.raw.split(/\s/, 1)[0] ?? parsed.name;
    if (!command) {
      if (parsed.prefix === null) return false;
      if (facts.isDirect || parsed.addressed) {
        await this.send(event, `Unknown command ${typed}. Send /help for the list.`);
      } else {
        this.deps.log.debug({ roomId: event.room_id, command: parsed.name }, "unknown command not addressed to the bot; ignored");
      }
      return true;
    }
    const args = command.args.safeParse(parsed.args);
    if (!args.success) {
      if (parsed.prefix === null) return false;
      await this.send(event, `Usage: ${command.usage}`);
      return true;
    }
    await this.run(event, facts, command, args.data);
    return true;
  }

  private async run(event: RoomEvent, facts: CommandFacts, command: CommandDefinition<unknown>, args: unknown): Promise<void> {
    const log = this.deps.log;
    const where = { roomId: event.room_id, eventId: event.event_id, command: command.name };
    let text: string;
    try {
      const decision = await this.permissions.check(permissionFor(command, args), {
        roomId: event.room_id, userId: event.sender, isDirect: facts.isDirect,
      });
      if (!decision.allowed) {
        log.info({ ...where, sender: event.sender }, "command refused: not permitted");
        await this.send(event, decision.reply);
        return;
      }
      const ctx: CommandContext = {
        roomId: event.room_id, eventId: event.event_id, sender: event.sender, isDirect: facts.isDirect,
        threadKey: facts.threadKey, deps: this.deps, commands: this.registry.list(),
      };
      text = await command.run(ctx, args);
      this.deps.onCommand?.(command.name);
      log.info(where, "command handled");
    } catch (e) {
      const userMessage = userMessageOf(e);
      log.error({ ...where, err: e instanceof Error ? e.message : String(e) }, "command failed");
      text = userMessage ?? `Sorry, something went wrong running /${command.name}. Please try again.`;
    }
    await this.send(event, text);
  }

  /** Replies in the thread the command was sent in (if any), to the command. */
  private async send(event: RoomEvent, text: string): Promise<void> {
    const relation = relationOf(event);
    try {
      await this.deps.reply(event.room_id, event.event_id, text, relation.relType === "m.thread" ? relation.eventId : undefined);
    } catch (e) {
      this.deps.log.error({ roomId: event.room_id, eventId: event.event_id, err: e instanceof Error ? e.message : String(e) },
        "command reply could not be sent");
    }
  }
}

/** The user-facing text errors of this codebase carry (StoreError, SettingsUnavailableError, outbox errors). */
function userMessageOf(e: unknown): string | undefined {
  if (typeof e !== "object" || e === null) return undefined;
  const text = (e as { userMessage?: unknown }).userMessage;
  return typeof text === "string" && text !== "" ? text : undefined;
}
