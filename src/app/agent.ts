// The link to the agent: the configured AGENT_URL, or the reference agent started in-process on loopback.
import type { Logger } from "pino";
import { AgentLink } from "../agent/link";
import type { Config } from "../config";
import { childLogger } from "../log";
import { startReferenceAgentFromConfig } from "../reference-agent/from-config";
import { startReferenceAgent } from "../reference-agent/server";
import type { MediaPartOptions } from "../media/parts";
import type { Store } from "../store";

export const CLIENT_NAME = "matrix-agent-bot/0.1.0";

export interface StartedAgent {
  link: AgentLink;
  stop(): Promise<void>;
}

export async function startAgent(config: Config, store: Store, log: Logger, embeddedToken: string | undefined,
  media?: MediaPartOptions): Promise<StartedAgent> {
  const t = config.timings;
  let url = config.agent.url;
  let token = config.agent.token;
  let closeEmbedded: (() => Promise<void>) | undefined;
  if (url === undefined) {
    token = embeddedToken;
    const logger = childLogger(log, "reference-agent");
    // With its settings (LLM, schedule, its own store in DATA_DIR) when loaded; plain echo otherwise.
    const agent = config.referenceAgent
      ? await startReferenceAgentFromConfig(config.referenceAgent, { logger, host: "127.0.0.1", port: 0, token: token ?? null,
        maxFrameBytes: t.maxFrameBytes })
      : await startReferenceAgent({ host: "127.0.0.1", port: 0, ...(token ? { token } : {}), logger, maxFrameBytes: t.maxFrameBytes });
    closeEmbedded = () => agent.close();
    url = agent.url;
  }
  const sessions = store.namespace<{ sessionId: string; lastSeq: number }>("agent-session");
  const link = new AgentLink({
    url, ...(token ? { token } : {}), logger: childLogger(log, "agent-link"), clientName: CLIENT_NAME,
    sessionStore: {
      load: async () => (await sessions.get("session")) ?? undefined,
      save: async (s) => void (await sessions.set("session", s)),
    },
    heartbeatMs: t.heartbeatMs, pongTimeoutMs: t.pongTimeoutMs, reconnectBaseMs: t.reconnectBaseMs,
    reconnectMaxMs: t.reconnectMaxMs, reconnectResetMs: t.reconnectResetMs, maxFrameBytes: t.maxFrameBytes,
    runStartTimeoutMs: t.runStartTimeoutMs, runIdleTimeoutMs: t.runIdleTimeoutMs, runDeadlineMs: t.runDeadlineMs,
    ...(media ? { media } : {}),
  });
  return {
    link,
    stop: async () => {
      await link.stop();
      await closeEmbedded?.();
    },
  };
}
