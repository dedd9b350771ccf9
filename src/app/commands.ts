// The command handler's view of the bot: replies through the outbox (a notice replying to the command,
// txnId derived from it), /status figures, /stop, /outbox retry.
import type { Logger } from "pino";
import type { AgentTransport } from "../agent/transports/transport";
import type { WiredAgents } from "./room-agents";
import { CommandHandler } from "../commands";
import type { CommandDeps, CommandStatus } from "../commands/registry";
import type { Config } from "../config";
import { buildMessageContents, mentionsFor } from "../matrix/format";
import type { MatrixHttp } from "../matrix/http";
import type { WorkInFlight } from "../metrics";
import type { RoomMessageSender } from "../matrix/sender";
import type { Outbox } from "../outbox";
import type { RoomSettingsStore } from "../rooms/settings";
import type { Store } from "../store";
import type { TurnPipeline } from "../turns/pipeline";
import { relationFor } from "../turns/reply-content";
import { txnIdFor } from "../turns/turn-run";

export function createCommandHandler(deps: {
  config: Config; botUserId: string; http: MatrixHttp; settings: RoomSettingsStore; pipeline: TurnPipeline;
  link: AgentTransport; agents?: WiredAgents; store: Store; outbox: Outbox; messages: RoomMessageSender; log: Logger;
  onCommand?: (name: string) => void;
  /** The whole bot's work in hand, for /status. */
  work?: () => WorkInFlight | undefined;
  createChatRoom?: CommandDeps["createChatRoom"];
  inboundRefusals?: () => NonNullable<CommandStatus["inbound"]>;
  liveMessaging?: { roomAllows(roomId: string): Promise<boolean> };
  usage?: CommandDeps["usage"];
  /** The agent's prompts waiting for an answer in a room (src/interrupts/). */
  prompts?: (roomId: string) => NonNullable<CommandStatus["prompts"]>;
}): CommandHandler {
  const { config, messages, log } = deps;
  return new CommandHandler({
    botUserId: deps.botUserId,
    ...(config.botDisplayName ? { botDisplayName: config.botDisplayName } : {}),
    botAdmins: config.botAdmins,
    http: deps.http,
    settings: deps.settings,
    pipeline: deps.pipeline,
    outbox: deps.outbox,
    log,
    ...(deps.onCommand ? { onCommand: deps.onCommand } : {}),
    ...(deps.liveMessaging ? { streaming: { defaultMode: config.streaming, roomAllows: (roomId: string) => deps.liveMessaging?.roomAllows(roomId) ?? Promise.resolve(true) } } : {}),
    ...(deps.usage ? { usage: deps.usage } : {}),
    ...(config.provisionSpace && deps.createChatRoom ? { createChatRoom: deps.createChatRoom } : {}),
    ...(deps.agents ? { agents: agentChoice(deps.agents) } : {}),
    status: async (roomId) => {
      const stats = deps.outbox.stats(roomId);
      const store = await deps.store.healthCheck().then(() => "ok" as const, () => "unavailable" as const);
      const work = deps.work?.();
      const agents = deps.agents ? await agentLinks(deps.agents, roomId) : undefined;
      return { link: deps.link.state(), store, pending: stats.pending, dead: stats.dead, ...(agents ? { agents } : {}),
        ...(deps.inboundRefusals ? { inbound: deps.inboundRefusals() } : {}), ...(work ? { work } : {}),
        ...(deps.prompts ? { prompts: deps.prompts(roomId) } : {}) };
    },
    reply: async (roomId, replyToEventId, text, threadRootId) => {
      const parts = buildMessageContents(text, { msgtype: "m.notice" });
      // A reply to the command; inside its thread when it was sent in one (every part stays in the thread).
      const relation = relationFor({ roomId, eventId: replyToEventId, sender: "", isDirect: false, ...(threadRootId ? { threadRootId } : {}) });
      for (const [i, part] of parts.entries()) {
        const content = { ...part, "m.mentions": mentionsFor({}),
          ...(i === 0 || threadRootId !== undefined ? { "m.relates_to": relation } : {}) };
        const result = await messages.sendEvent(roomId, "m.room.message", content, txnIdFor(replyToEventId, roomId, `command.${i}`));
        if (!result.ok) log.error({ roomId, error: result.error.describe() }, "could not post a command reply");
      }
    },
  });
}

/** `/agent` and `/proactive`'s view of the named agents: the choice per room, the opt-in per room and agent. */
function agentChoice(wired: WiredAgents): NonNullable<CommandDeps["agents"]> {
  const { roomAgents } = wired;
  return {
    defaultAgent: roomAgents.defaultAgent,
    list: () => roomAgents.list(),
    current: (roomId) => roomAgents.current(roomId),
    choose: (roomId, name) => roomAgents.choose(roomId, name),
    proactiveSettings: async (roomId) => wired.settingsFor((await roomAgents.current(roomId)).name),
  };
}

/** /status's list of agents and their links (with one agent, none: "Agent link" says it all). */
async function agentLinks(wired: WiredAgents, roomId: string): Promise<CommandStatus["agents"]> {
  const links = wired.roomAgents.linkStates();
  if (links.length < 2) return undefined;
  const here = (await wired.roomAgents.current(roomId)).name;
  return links.map((l) => ({ ...l, here: l.name === here }));
}
