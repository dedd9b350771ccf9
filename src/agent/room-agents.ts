// Which agent a room talks to: its own `/agent` choice, else the choice of a space it is in (the spaces the bot
// follows it through), else the global default (AGENTS_FILE's `default`). Each agent keeps its own conversation
// per room: the global default's thread ids are the room's thread keys as they always were (so conversations from
// before named agents go on), another agent's are the thread key plus `~~<name>`. Switching back resumes where it
// was. RoomAgents is also the AgentRunner the turn pipeline runs turns through.
import type { AgentTransport } from "./transports/transport";
import type { RunObserver, RunRequest, RunResult } from "./link-types";
import type { AgentCapabilities } from "./protocol-v2";

export interface AgentInfo {
  readonly name: string;
  readonly displayName?: string;
  readonly description?: string;
}

export interface RoomAgentsDeps {
  /** Every agent, the global default first. */
  agents: ReadonlyMap<string, { definition: AgentInfo; transport: AgentTransport }>;
  defaultAgent: string;
  settings: {
    get(roomId: string): Promise<{ agent?: string | undefined }>;
    update(roomId: string, patch: { agent?: string }): Promise<unknown>;
  };
  /** The spaces the bot follows a room through (room origins). */
  spacesOf(roomId: string): Promise<readonly string[]>;
}

export type AgentSource = "room" | "space" | "default";

/** What runs a turn (RoomAgents itself, or RoomAgents.routed's runner). */
export type TurnRunner = Pick<RoomAgents, "run">;

const AGENT_MARK = "~~";

/** The thread id an agent sees for a thread key (the global default's is the key itself). */
export function agentThreadId(threadKey: string, agent: string, defaultAgent: string): string {
  return agent === defaultAgent ? threadKey : `${threadKey}${AGENT_MARK}${agent}`;
}

/** The thread key of an agent's thread id (the inverse of agentThreadId). */
export function threadKeyOf(threadId: string): string {
  const at = threadId.indexOf(AGENT_MARK);
  return at < 0 ? threadId : threadId.slice(0, at);
}

export class RoomAgents {
  constructor(private readonly deps: RoomAgentsDeps) {}

  list(): AgentInfo[] {
    return [...this.deps.agents.values()].map((a) => a.definition);
  }

  /** Every agent's link state ("up", "connecting", "down", "stopped"), the global default first. */
  linkStates(): Array<{ name: string; state: string }> {
    return [...this.deps.agents].map(([name, a]) => ({ name, state: a.transport.state() }));
  }

  get defaultAgent(): string {
    return this.deps.defaultAgent;
  }

  /** The room's agent and where the choice comes from. A choice naming an agent no longer configured is skipped. */
  async current(roomId: string): Promise<{ name: string; source: AgentSource }> {
    const own = (await this.deps.settings.get(roomId)).agent;
    if (own !== undefined && this.deps.agents.has(own)) return { name: own, source: "room" };
    for (const space of await this.deps.spacesOf(roomId)) {
      const chosen = (await this.deps.settings.get(space)).agent;
      if (chosen !== undefined && this.deps.agents.has(chosen)) return { name: chosen, source: "space" };
    }
    return { name: this.deps.defaultAgent, source: "default" };
  }

  /** The room (or space: then the default of its child rooms) talks to `name` from now on. */
  async choose(roomId: string, name: string): Promise<void> {
    if (!this.deps.agents.has(name)) throw new Error(`unknown agent ${name}`);
    await this.deps.settings.update(roomId, { agent: name });
  }

  /** The room's agent's transport. */
  async transportFor(roomId: string): Promise<AgentTransport> {
    return this.transport((await this.current(roomId)).name);
  }

  /** What the room's agent reads and does (AG-UI capabilities); undefined for a v1 agent (text only). */
  async capabilitiesFor(roomId: string): Promise<AgentCapabilities | undefined> {
    const transport = await this.transportFor(roomId);
    return transport.protocol() === 2 ? transport.capabilities() : undefined;
  }

  /** The agent a turn goes to: the current one of the room it was asked in (the only one, when one is configured). */
  async agentFor(req: { input: unknown }): Promise<string> {
    if (this.deps.agents.size <= 1) return this.deps.defaultAgent; // no choice to read: the room's and its spaces' would name it
    const roomId = (req.input as { context?: { roomId?: unknown } }).context?.roomId;
    return typeof roomId === "string" ? (await this.current(roomId)).name : this.deps.defaultAgent;
  }

  /** One turn, at the agent of the room it was asked in, in that agent's own thread. */
  async run(req: RunRequest, observer: RunObserver, signal?: AbortSignal): Promise<RunResult> {
    return this.runAt(await this.agentFor(req), req, observer, signal);
  }

  /**
   * The turn pipeline's runner: each turn's agent looked up once, then `wrap` (the usage meter, keyed by the
   * agent's name) around the run at that agent.
   */
  routed(wrap: (agent: string, runner: TurnRunner) => TurnRunner): TurnRunner {
    return {
      run: async (req, observer, signal) => {
        const name = await this.agentFor(req);
        return wrap(name, { run: (r, o, s) => this.runAt(name, r, o, s) }).run(req, observer, signal);
      },
    };
  }

  private runAt(name: string, req: RunRequest, observer: RunObserver, signal?: AbortSignal): Promise<RunResult> {
    return this.transport(name).run({ ...req, threadId: agentThreadId(req.threadId, name, this.deps.defaultAgent) }, observer, signal);
  }

  private transport(name: string): AgentTransport {
    const agent = this.deps.agents.get(name) ?? this.deps.agents.get(this.deps.defaultAgent);
    if (!agent) throw new Error("no agent is configured");
    return agent.transport;
  }
}
