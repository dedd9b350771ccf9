// The agents: the named ones of AGENTS_FILE, the one of AGENT_URL (named "default"), or the reference agent
// started in-process on loopback. Each behind an AgentTransport: ws(s):// our envelope (AgentLink), http(s)://
// plain AG-UI over HTTP + SSE (HttpAgentTransport).
// The HTTP transport (@ag-ui/client) and the reference agent (openai, the MCP client) are loaded only when
// configured: a bot with one WebSocket agent does not carry ~20 MB of modules it never calls (bench/README.md).
import type { Logger } from "pino";
import { ConversationHistory } from "../agent/history";
import { AgentLink } from "../agent/link";
import { transportKindOf, type AgentTransport } from "../agent/transports/transport";
import type { Config } from "../config";
import { SHORTHAND_AGENT_NAME, type AgentDefinition } from "../config/agents-file";
import { childLogger } from "../log";
import type { MediaPartOptions } from "../media/parts";
import type { Store } from "../store";

export const CLIENT_NAME = "matrix-agent-bot/0.1.0";

export interface NamedAgent {
  readonly definition: AgentDefinition;
  readonly transport: AgentTransport;
}

export interface StartedAgent {
  /** The global default agent's transport: readiness, /status, proactive fan-out. */
  link: AgentTransport;
  /** Every agent by name, the global default first. */
  agents: ReadonlyMap<string, NamedAgent>;
  defaultAgent: string;
  stop(): Promise<void>;
}

export async function startAgent(config: Config, store: Store, log: Logger, embeddedToken: string | undefined,
  media?: MediaPartOptions): Promise<StartedAgent> {
  const t = config.timings;
  let closeEmbedded: (() => Promise<void>) | undefined;
  let definitions: readonly AgentDefinition[];
  let defaultAgent = SHORTHAND_AGENT_NAME;
  if (config.agents) {
    definitions = config.agents.agents;
    defaultAgent = config.agents.defaultAgent;
  } else if (config.agent.url !== undefined) {
    definitions = [{ name: SHORTHAND_AGENT_NAME, url: config.agent.url, ...(config.agent.token ? { token: config.agent.token } : {}) }];
  } else {
    const logger = childLogger(log, "reference-agent");
    const token = embeddedToken;
    // With its settings (LLM, schedule, its own store in DATA_DIR) when loaded; plain echo otherwise.
    const agent = config.referenceAgent
      ? await (await import("../reference-agent/from-config")).startReferenceAgentFromConfig(config.referenceAgent, { logger, host: "127.0.0.1", port: 0, httpPort: null, token: token ?? null,
        maxFrameBytes: t.maxFrameBytes })
      : await (await import("../reference-agent/server")).startReferenceAgent({ host: "127.0.0.1", port: 0, ...(token ? { token } : {}), logger, maxFrameBytes: t.maxFrameBytes });
    closeEmbedded = () => agent.close();
    definitions = [{ name: SHORTHAND_AGENT_NAME, url: agent.url, ...(token ? { token } : {}) }];
  }
  const sessions = store.namespace<{ sessionId: string; lastSeq: number }>("agent-session");
  const history = new ConversationHistory(store.namespace("agent-history"), t.agentHistoryMaxMessages, childLogger(log, "agent-history"));
  const httpTransport = definitions.some((d) => transportKindOf(d.url) === "http") ? await import("../agent/transports/http") : undefined;
  const transportOf = (def: AgentDefinition): AgentTransport => {
    const logger = childLogger(log, "agent-link").child({ agent: def.name });
    if (transportKindOf(def.url) === "http") {
      if (!httpTransport) throw new Error("the HTTP agent transport was not loaded");
      const { HttpAgentTransport } = httpTransport;
      return new HttpAgentTransport({ name: def.name, url: def.url, ...(def.token ? { token: def.token } : {}),
        ...(def.capabilities ? { capabilities: def.capabilities } : {}), logger, history,
        runStartTimeoutMs: t.runStartTimeoutMs, runIdleTimeoutMs: t.runIdleTimeoutMs, runDeadlineMs: t.runDeadlineMs,
        maxBodyBytes: t.maxFrameBytes, ...(media ? { media } : {}) });
    }
    // The global default keeps the session record it always had; the others get one each.
    const sessionKey = def.name === defaultAgent ? "session" : `session:${def.name}`;
    return new AgentLink({
      url: def.url, ...(def.token ? { token: def.token } : {}), logger, clientName: CLIENT_NAME,
      sessionStore: {
        load: async () => (await sessions.get(sessionKey)) ?? undefined,
        save: async (s) => void (await sessions.set(sessionKey, s)),
      },
      heartbeatMs: t.heartbeatMs, pongTimeoutMs: t.pongTimeoutMs, reconnectBaseMs: t.reconnectBaseMs,
      reconnectMaxMs: t.reconnectMaxMs, reconnectResetMs: t.reconnectResetMs, maxFrameBytes: t.maxFrameBytes,
      runStartTimeoutMs: t.runStartTimeoutMs, runIdleTimeoutMs: t.runIdleTimeoutMs, runDeadlineMs: t.runDeadlineMs,
      ...(media ? { media } : {}),
    });
  };
  const ordered = [...definitions].sort((a, b) => Number(b.name === defaultAgent) - Number(a.name === defaultAgent));
  const agents = new Map(ordered.map((definition) => [definition.name, { definition, transport: transportOf(definition) }]));
  const main = agents.get(defaultAgent);
  if (!main) throw new Error(`the default agent ${defaultAgent} is not configured`);
  return {
    link: main.transport,
    agents,
    defaultAgent,
    stop: async () => {
      await Promise.all([...agents.values()].map((a) => a.transport.stop()));
      await closeEmbedded?.();
    },
  };
}
