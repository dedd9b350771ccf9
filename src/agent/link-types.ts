// Public types of the bot's link to the agent (see link.ts).
import type { Logger } from "pino";
import type { MediaPartOptions } from "../media/parts";
import type { AttachmentParse } from "../media/outgoing";
import type { RunErrorCode, RunInput } from "./protocol";
import type { AgentInterrupt } from "./protocol-v2";
import type { WorkEvent } from "./run-events";
import type { TokenUsage } from "../usage/token-usage";

export type LinkState = "connecting" | "up" | "down" | "stopped";

export interface PersistedSession {
  sessionId: string;
  /** Highest seq every agent-initiated frame up to which the bot has durably handled (what it acked). */
  lastSeq: number;
}

export interface SessionStore {
  load(): Promise<PersistedSession | undefined>;
  save(session: PersistedSession): Promise<void>;
}

export interface AgentLinkOptions {
  url: string;
  token?: string;
  logger: Logger;
  /** Sent in `hello.client`, e.g. "matrix-agent-bot/0.1.0". */
  clientName: string;
  sessionStore: SessionStore;
  /** Ping interval; the agent's `ready.heartbeatMs` wins when smaller. */
  heartbeatMs: number;
  /** No pong within this after a ping → the socket is considered dead (half-open) and dropped. */
  pongTimeoutMs: number;
  reconnectBaseMs: number;
  reconnectMaxMs: number;
  /** The backoff attempt counter resets only after the link stayed up this long. */
  reconnectResetMs: number;
  /** ws `maxPayload` for inbound frames; outbound run frames above it fail the run. */
  maxFrameBytes: number;
  runStartTimeoutMs: number;
  runIdleTimeoutMs: number;
  runDeadlineMs: number;
  /** Upgrade + hello/ready handshake limit. Default 10 s. */
  connectTimeoutMs?: number;
  /** Injected for tests; default Math.random. */
  random?: () => number;
  /** Agent-initiated runs buffered at once before the oldest is dropped (re-delivered on reconnect). Default 256. */
  maxBufferedAgentRuns?: number;
  /** Text bytes buffered per agent-initiated run before it is dropped. Default 1 MiB. */
  maxAgentRunTextBytes?: number;
  /** How many handled agent-initiated runIds (and finished bot runIds) are remembered for dedupe. Default 10,000. */
  rememberedRunIds?: number;
  /** Attachments of v2 runs: inline up to this size (and the frame limit), else by the bot's one-time URL. */
  media?: MediaPartOptions;
}

export const LINK_DEFAULTS = {
  connectTimeoutMs: 10_000,
  maxBufferedAgentRuns: 256,
  maxAgentRunTextBytes: 1024 * 1024,
  rememberedRunIds: 10_000,
} as const;

/** Sensible production values for the required timing options (the config layer may use them). */
export const LINK_PRODUCTION_DEFAULTS = {
  heartbeatMs: 25_000,
  pongTimeoutMs: 10_000,
  reconnectBaseMs: 500,
  reconnectMaxMs: 30_000,
  reconnectResetMs: 60_000,
  maxFrameBytes: 1024 * 1024,
  runStartTimeoutMs: 30_000,
  runIdleTimeoutMs: 120_000,
  runDeadlineMs: 600_000,
  connectTimeoutMs: 10_000,
} as const;

export interface RunRequest {
  threadId: string;
  runId: string;
  input: RunInput;
}

export interface RunObserver {
  onStarted?(): void;
  onTextStart?(messageId: string): void;
  onTextDelta?(messageId: string, delta: string): void;
  /** The whole text of a message still being written, each time it grew (for live rendering). */
  onTextProgress?(messageId: string, text: string): void;
  /** A tool call, step or reasoning event (v2 agents), in order with the text. */
  onWork?(event: WorkEvent): void;
  /** Once per complete TEXT_MESSAGE, in order; awaited before the next one and before run() resolves. */
  onTextMessage(messageId: string, text: string): void | Promise<void>;
  /** A file the agent sent for the room (v2 CUSTOM `matrix.attachment`), in order with the text; awaited likewise. */
  onAttachment?(attachment: AttachmentParse): void | Promise<void>;
}

export type RunFailure =
  | {
      kind: "unreachable" | "link_lost" | "no_start" | "idle" | "deadline" | "bad_frame" | "cancelled";
      detail: string;
    }
  | { kind: "agent_error"; code: RunErrorCode; message: string; retryable: boolean }
  /** An HTTP agent answered the run's POST with 401/403, 429 (with its Retry-After, when given) or 5xx. */
  | { kind: "http_auth" | "http_unavailable"; status: number; detail: string }
  | { kind: "http_rate_limited"; status: number; detail: string; retryAfterMs?: number }
  /** Refused before it reached the agent: a usage limit (src/usage/); `text` tells the user when it resets. */
  | { kind: "usage_limit"; detail: string; text: string };

/**
 * `usage`: the token usage the agent reported at the run's end (RUN_FINISHED or RUN_ERROR), when it did.
 * `interrupts`: the run paused, waiting for people's answers (RUN_FINISHED outcome `interrupt`, src/interrupts/).
 */
export type RunResult = ({ ok: true; interrupts?: AgentInterrupt[] } | { ok: false; failure: RunFailure }) & { usage?: TokenUsage[] };

export interface AgentInitiatedRun {
  runId: string;
  /** A thread key, or "*" for every opted-in room. */
  threadId: string;
  proactive: boolean;
  /** One entry per complete TEXT_MESSAGE, in order. */
  messages: string[];
  seqs: number[];
}

export type AgentInitiatedOutcome = "handled" | { nack: true; reason: string; permanent: boolean };
/** Must be idempotent on runId: a run may be delivered again after a reconnect. */
export type AgentInitiatedHandler = (run: AgentInitiatedRun) => Promise<AgentInitiatedOutcome>;

export interface LinkStats {
  /** Connection attempts after the first one. */
  reconnects: number;
  /** Inbound frames that failed to parse, or named nothing we could use. */
  framesRejected: number;
  /** Duplicate event frames (seq already seen in this session) ignored. */
  duplicatesIgnored: number;
  acksSent: number;
  nacksSent: number;
  agentRunsDelivered: number;
}
