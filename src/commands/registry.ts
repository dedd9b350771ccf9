// The command table: name, one-line summary, usage, zod schema over the argument words, who may run it, and
// what it does. Help is generated from it, so every command appears there exactly once.
import type { Logger } from "pino";
import { z } from "zod";
import type { MatrixHttp } from "../matrix/http";
import type { WorkInFlight } from "../metrics";
import type { RoomSettingsStore } from "../rooms/settings";
import type { Usage } from "../usage";

/** "anyone"; "settings": who may change this room's settings (see permissions.ts); "admin": BOT_ADMINS only. */
export type Permission = "anyone" | "settings" | "admin";

export interface CommandStatus {
  /** The agent link, in words ("connected", "reconnecting", ...). */
  link: string;
  /** With several agents: each one's link state, and which one answers in this room. */
  agents?: Array<{ name: string; state: string; here: boolean }>;
  store: "ok" | "unavailable";
  /** Deliveries for this room still queued in the outbox. */
  pending: number;
  /** Deliveries for this room that exhausted their retries. */
  dead: number;
  /** Since start: inbound events skipped as unstorable, inbound batches refused for a retry. */
  inbound?: { poisonedEvents: number; refusedBatches: number };
  /** The whole bot's work in hand (this /status command counts as one room event being routed). */
  work?: WorkInFlight;
  /** The agent's prompts in this room still waiting for an answer (src/interrupts/). */
  prompts?: Array<{ kind: "approval" | "choice" | "text"; text: string; asker: string; expiresAt: number }>;
}

/** What the command handler needs from the rest of the bot (the lead wires these in app.ts). */
export interface CommandDeps {
  botUserId: string;
  botDisplayName?: string;
  /** BOT_ADMINS globs. */
  botAdmins: readonly string[];
  /** For power levels and the create event. */
  http: MatrixHttp;
  settings: RoomSettingsStore;
  pipeline: { cancel(threadKey: string): boolean };
  status(roomId: string): Promise<CommandStatus>;
  outbox: { retryDead(roomId?: string): Promise<number> };
  /**
   * Posts a notice replying to the command (the lead maps it to the outbox with a deterministic txnId), inside the
   * Matrix thread `threadRootId` when the command was sent in one.
   */
  reply(roomId: string, replyToEventId: string, text: string, threadRootId?: string): Promise<void>;
  log: Logger;
  /** Observes each command that ran (metrics). */
  onCommand?: (name: string) => void;
  /** `/stream`: STREAMING, and whether the room's MSC4357 state allows live messages. */
  streaming?: { defaultMode: "edits" | "final"; roomAllows(roomId: string): Promise<boolean> };
  /** `/new`: a chat room in the sender's private space; absent when PROVISION_SPACE is off. Errors carry userMessage. */
  createChatRoom?: (userId: string, title: string | undefined, opts: { requestId: string }) => Promise<{ roomId: string; title: string }>;
  /** `/usage`: the token usage ledger, the daily limits and the clock days are counted on. */
  usage?: Pick<Usage, "ledger" | "limits" | "now">;
  /** `/agent`: the named agents and each room's choice (src/agent/room-agents.ts). */
  agents?: {
    readonly defaultAgent: string;
    list(): Array<{ name: string; displayName?: string; description?: string }>;
    current(roomId: string): Promise<{ name: string; source: "room" | "space" | "default" }>;
    choose(roomId: string, name: string): Promise<void>;
    /** The proactive opt-in of the room's current agent (it is per room and agent). */
    proactiveSettings(roomId: string): Promise<Pick<RoomSettingsStore, "isProactive" | "setProactive">>;
  };
}

export interface CommandContext {
  roomId: string;
  eventId: string;
  sender: string;
  isDirect: boolean;
  /** The thread key of the conversation the command was sent in. */
  threadKey: string;
  deps: CommandDeps;
  /** Every registered command (for /help). */
  commands: readonly CommandDefinition<unknown>[];
}

export interface CommandDefinition<A> {
  /** Lowercase, without prefix. */
  name: string;
  /** One line for /help. */
  summary: string;
  /** The usage line, e.g. "/mode [mention|all]". */
  usage: string;
  /** Validates and converts the argument words. */
  args: z.ZodType<A, string[]>;
  /** Who may run it; a function when it depends on the arguments (showing vs. changing). */
  permission: Permission | ((args: A) => Permission);
  /** Does the work; resolves to the reply text. May throw (the handler turns it into an apology). */
  run(ctx: CommandContext, args: A): Promise<string>;
}

export function defineCommand<A>(definition: CommandDefinition<A>): CommandDefinition<unknown> {
  return definition as CommandDefinition<unknown>;
}

export function permissionFor<A>(command: CommandDefinition<A>, args: A): Permission {
  return typeof command.permission === "function" ? command.permission(args) : command.permission;
}

export class CommandRegistry {
  private readonly byName = new Map<string, CommandDefinition<unknown>>();

  constructor(commands: readonly CommandDefinition<unknown>[]) {
    for (const command of commands) {
      const name = command.name.toLowerCase();
      if (this.byName.has(name)) throw new Error(`command /${name} registered twice`);
      this.byName.set(name, command);
    }
  }

  get(name: string): CommandDefinition<unknown> | undefined {
    return this.byName.get(name.toLowerCase());
  }

  list(): CommandDefinition<unknown>[] {
    return [...this.byName.values()];
  }
}

// ---- argument schema helpers ------------------------------------------------------------------

/** One word out of a fixed set, case-insensitive; the lowercased word is the value. */
export function oneOf<const T extends readonly [string, ...string[]]>(...words: T): z.ZodType<T[number], string> {
  return z.string().transform((s) => s.toLowerCase()).pipe(z.enum(words)) as unknown as z.ZodType<T[number], string>;
}

/** No argument words at all. */
export const noArgs: z.ZodType<[], string[]> = z.tuple([]) as unknown as z.ZodType<[], string[]>;

/** Nothing (undefined) or exactly one word of the set. */
export function optionalWord<const T extends readonly [string, ...string[]]>(...words: T): z.ZodType<T[number] | undefined, string[]> {
  return z.union([z.tuple([]).transform(() => undefined), z.tuple([oneOf(...words)]).transform(([w]) => w)]) as unknown as
    z.ZodType<T[number] | undefined, string[]>;
}
