// Wiring of the named agents into the bot: which agent each room talks to (RoomAgents, the turn pipeline's runner),
// and the proactive opt-in per room and agent: the global default keeps the "proactive-rooms" index it always had,
// every other agent has its own, and each WebSocket agent's own runs fan out to the rooms opted in for it.
import type { Logger } from "pino";
import { RoomAgents, threadKeyOf } from "../agent/room-agents";
import { childLogger } from "../log";
import type { Outbox } from "../outbox";
import { ProactiveFanout } from "../proactive/fanout";
import { LIFECYCLE_NAMESPACES, type LifecycleSettings } from "../rooms/lifecycle";
import { RoomSettingsStore } from "../rooms/settings";
import type { Store } from "../store";
import { faceOf } from "../render/faces";
import type { StartedAgent } from "./agent";
import { facedEnqueue } from "./faces";

export interface WiredAgents {
  roomAgents: RoomAgents;
  /** The opt-in store of an agent (the global default's is the app's own). */
  settingsFor(agent: string): RoomSettingsStore;
  /** Fan-out work in hand of the agents other than the global default. */
  pendingCount(): number;
  /** The room lifecycle's view: an upgrade moves, a kick or ban removes, every agent's opt-in (and the room's settings). */
  lifecycleSettings: LifecycleSettings;
}

export function wireRoomAgents(deps: { agent: StartedAgent; store: Store; settings: RoomSettingsStore; outbox: Outbox;
  isJoined: (roomId: string) => Promise<boolean>; log: Logger;
  /** Appservice mode: the agent's own user, joined to the room, that its own runs are sent as there (src/app/agent-users.ts). */
  agentUserIn?: (agent: string, roomId: string) => Promise<string | undefined> }): WiredAgents {
  const { agent, store, settings, log } = deps;
  const origins = store.namespace<{ spaces?: unknown }>(LIFECYCLE_NAMESPACES.origins);
  const roomAgents = new RoomAgents({
    agents: agent.agents, defaultAgent: agent.defaultAgent, settings,
    spacesOf: async (roomId) => {
      const spaces = (await origins.get(roomId))?.spaces;
      return Array.isArray(spaces) ? spaces.filter((s): s is string => typeof s === "string") : [];
    },
  });
  const stores = new Map<string, RoomSettingsStore>([[agent.defaultAgent, settings]]);
  const settingsFor = (name: string): RoomSettingsStore => {
    let s = stores.get(name);
    if (!s) {
      s = new RoomSettingsStore({ settings: store.namespace("room-settings"), proactiveIndex: store.namespace<number>(`proactive-rooms-agent-${name}`),
        log: childLogger(log, "settings") });
      stores.set(name, s);
    }
    return s;
  };
  const fanouts: ProactiveFanout[] = [];
  for (const [name, { transport, definition }] of agent.agents) {
    if (name === agent.defaultAgent) continue; // app.ts wires the global default's fan-out (and POST /proactive)
    const fanout = new ProactiveFanout({ proactiveRooms: () => settingsFor(name).proactiveRooms(), isJoined: deps.isJoined,
      outbox: facedEnqueue(deps.outbox, faceOf(definition, agent.defaultAgent), deps.agentUserIn && ((roomId) => deps.agentUserIn?.(name, roomId) ?? Promise.resolve(undefined))), recordedRuns: store.namespace<string[]>(`proactive-runs-agent-${name}`), log: childLogger(log, "proactive").child({ agent: name }) });
    transport.onAgentInitiated((run) => fanout.onAgentInitiated({ ...run, threadId: threadKeyOf(run.threadId) }));
    fanouts.push(fanout);
  }
  const others = [...agent.agents.keys()].filter((name) => name !== agent.defaultAgent);
  const lifecycleSettings: LifecycleSettings = {
    // The room's settings (its chosen agent among them) and the global default's opt-in first, then each other agent's.
    moveRoom: async (oldRoomId, newRoomId) => {
      await settings.moveRoom(oldRoomId, newRoomId);
      for (const name of others) await settingsFor(name).moveProactive(oldRoomId, newRoomId);
    },
    forgetProactive: async (roomId) => {
      for (const name of [agent.defaultAgent, ...others]) await settingsFor(name).forgetProactive(roomId);
    },
  };
  return { roomAgents, settingsFor, pendingCount: () => fanouts.reduce((n, f) => n + f.pendingCount(), 0), lifecycleSettings };
}
