// One interface for every way the bot reaches an agent: `ws(s)://` is our envelope (AgentLink: multiplexed,
// resumable, agent-initiated runs), `http(s)://` plain AG-UI over HTTP + SSE (http.ts: one POST per run).
// The turn pipeline, /status, readiness and fan-out talk to this interface only.
import type {
  AgentInitiatedHandler, LinkState, LinkStats, RunObserver, RunRequest, RunResult,
} from "../link-types";
import type { AgentCapabilities, ProtocolVersion } from "../protocol-v2";

export type TransportKind = "ws" | "http";

export interface AgentTransport {
  /** Start connecting (ws) or get ready (http); resolves after the first attempt. Never rejects. */
  start(): Promise<void>;
  stop(): Promise<void>;
  state(): LinkState;
  /** Returns an unsubscribe function. */
  onStateChange(cb: (state: LinkState) => void): () => void;
  stats(): LinkStats;
  /** 2 for AG-UI (a v2 envelope agent, or any HTTP agent); 1 for a v1 envelope agent. */
  protocol(): ProtocolVersion;
  /** What the agent can read and do (a v2 `ready`, or the agents file for HTTP agents). */
  capabilities(): AgentCapabilities | undefined;
  /** Runs the agent starts on its own (ws only; HTTP agents have none). Idempotent on runId. */
  onAgentInitiated(handler: AgentInitiatedHandler): void;
  /** Run one turn. Never rejects: every problem is a RunFailure. */
  run(req: RunRequest, observer: RunObserver, signal?: AbortSignal): Promise<RunResult>;
}

/** `ws` for ws:// and wss:// URLs, `http` for http:// and https://. */
export function transportKindOf(url: string): TransportKind {
  return /^wss?:/i.test(url) ? "ws" : "http";
}
