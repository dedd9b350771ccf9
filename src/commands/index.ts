// Public surface of the commands module.
export { BUILTIN_COMMANDS } from "./builtin";
export { CommandHandler, type CommandFacts } from "./handler";
export { parseCommand, type ParsedCommand, type ParserFacts } from "./parser";
export { PermissionChecker, type PermissionDecision } from "./permissions";
export { CommandRegistry, defineCommand, type CommandContext, type CommandDefinition, type CommandDeps, type CommandStatus, type Permission } from "./registry";
