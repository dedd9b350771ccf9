// Agent wire protocol v1 ("matrix-agent/1") and the envelope v2 ("matrix-agent/2", AG-UI 1.0 events: see
// protocol-v2.ts) shares: every frame both ways as zod schemas, types inferred. See runbook/agent-protocol.md for
// the semantics (negotiation, seq, ack, resume, replay).
import { z } from "zod";
import {
  AgentCapabilitiesSchema, PROTOCOL_V2, ResumeEntrySchema, RunAgentInputSchema, V2EventSchema, envelopeMismatch, type ProtocolVersion,
} from "./protocol-v2";
import { fastEventFrameV1 } from "./frame-fast-path";

export const PROTOCOL = "matrix-agent/1";
/** What the bot offers in `hello.protocols`, preferred first. */
export const PROTOCOLS_OFFERED = [PROTOCOL_V2, PROTOCOL] as const;

const nonEmpty = z.string().min(1);
const seq = z.number().int().nonnegative();

// ---------------------------------------------------------------- AG-UI event vocabulary

export const RUN_ERROR_CODES = [
  "thread_busy",
  "rate_limited",
  "upstream_unavailable",
  "context_too_long",
  "timeout",
  "cancelled",
  "auth",
  "internal",
] as const;
export const RunErrorCodeSchema = z.enum(RUN_ERROR_CODES);
export type RunErrorCode = z.infer<typeof RunErrorCodeSchema>;

export const RunStartedEventSchema = z.looseObject({ type: z.literal("RUN_STARTED") });
export const TextMessageStartEventSchema = z.looseObject({
  type: z.literal("TEXT_MESSAGE_START"),
  messageId: nonEmpty,
});
export const TextMessageContentEventSchema = z.looseObject({
  type: z.literal("TEXT_MESSAGE_CONTENT"),
  messageId: nonEmpty,
  delta: z.string(),
});
export const TextMessageEndEventSchema = z.looseObject({
  type: z.literal("TEXT_MESSAGE_END"),
  messageId: nonEmpty,
});
export const RunFinishedEventSchema = z.looseObject({ type: z.literal("RUN_FINISHED") });
export const RunErrorEventSchema = z.looseObject({
  type: z.literal("RUN_ERROR"),
  code: RunErrorCodeSchema,
  message: z.string(),
  retryable: z.boolean().default(false),
});

const KnownEventSchema = z.discriminatedUnion("type", [
  RunStartedEventSchema,
  TextMessageStartEventSchema,
  TextMessageContentEventSchema,
  TextMessageEndEventSchema,
  RunFinishedEventSchema,
  RunErrorEventSchema,
]);
export type KnownAgentEvent = z.infer<typeof KnownEventSchema>;
export const KNOWN_EVENT_TYPES: ReadonlySet<string> = new Set([
  "RUN_STARTED",
  "TEXT_MESSAGE_START",
  "TEXT_MESSAGE_CONTENT",
  "TEXT_MESSAGE_END",
  "RUN_FINISHED",
  "RUN_ERROR",
]);

/** An event type we do not use (e.g. AG-UI TOOL_CALL_*): parsed, then ignored. */
export interface UnknownAgentEvent {
  type: "UNKNOWN";
  originalType: string;
}
export type AgentEvent = KnownAgentEvent | UnknownAgentEvent;

/** Known types must be well-formed; any other type string becomes `{ type: "UNKNOWN" }`. */
export const AgentEventSchema = z.looseObject({ type: z.string() }).transform((raw, ctx): AgentEvent => {
  if (!KNOWN_EVENT_TYPES.has(raw.type) || raw.type === "UNKNOWN") {
    return { type: "UNKNOWN", originalType: raw.type };
  }
  const parsed = KnownEventSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      ctx.addIssue({ code: "custom", message: issue.message, path: issue.path as (string | number)[] });
    }
    return z.NEVER;
  }
  return parsed.data;
});

// ---------------------------------------------------------------- bot → agent

export const RunInputMessageSchema = z.looseObject({
  id: nonEmpty,
  role: z.literal("user"),
  content: z.string(),
  sender: nonEmpty,
  senderName: z.string().optional(),
  /** The id of an earlier message this one replaces (the user edited a question the agent was given before: answered,
   *  or in a run cancelled for the edit): the agent answers this one instead, and keeps only this version in its history. */
  replaces: nonEmpty.optional(),
});
export type RunInputMessage = z.infer<typeof RunInputMessageSchema>;

export const RunContextSchema = z.looseObject({
  roomId: nonEmpty,
  isDirect: z.boolean(),
  inReplyTo: z.string().optional(),
});
export type RunContext = z.infer<typeof RunContextSchema>;

export const RunInputSchema = z.looseObject({
  messages: z.array(RunInputMessageSchema),
  context: RunContextSchema,
  /** v2: the answers to a paused run's interrupts (src/interrupts/); such a run may carry no new message. */
  resume: z.array(ResumeEntrySchema).min(1).optional(),
}).refine((input) => input.messages.length > 0 || input.resume !== undefined, { message: "a run needs a message or resume entries", path: ["messages"] });
export type RunInput = z.infer<typeof RunInputSchema>;

export const HelloFrameSchema = z.object({
  op: z.literal("hello"),
  /** Always "matrix-agent/1", so that v1 agents accept the hello. */
  protocol: z.string(),
  /** The protocols the bot speaks, preferred first; the agent picks one in `ready.protocol`. */
  protocols: z.array(z.string()).optional(),
  client: z.string(),
  resume: z.object({ sessionId: nonEmpty, lastSeq: seq }).optional(),
});
export const RunFrameSchema = z.object({
  op: z.literal("run"),
  threadId: nonEmpty,
  runId: nonEmpty,
  input: RunInputSchema,
});
/** v2: `input` is an AG-UI RunAgentInput. */
export const RunFrameV2Schema = z.object({
  op: z.literal("run"),
  threadId: nonEmpty,
  runId: nonEmpty,
  input: RunAgentInputSchema,
});
export const CancelFrameSchema = z.object({ op: z.literal("cancel"), runId: nonEmpty });
export const AckFrameSchema = z.object({ op: z.literal("ack"), seq });
export const NackFrameSchema = z.object({
  op: z.literal("nack"),
  seq,
  reason: z.string(),
  permanent: z.boolean(),
});
export const BotFrameSchema = z.discriminatedUnion("op", [
  HelloFrameSchema,
  RunFrameSchema,
  CancelFrameSchema,
  AckFrameSchema,
  NackFrameSchema,
]);
const BotFrameV2Schema = z.discriminatedUnion("op", [
  HelloFrameSchema,
  RunFrameV2Schema,
  CancelFrameSchema,
  AckFrameSchema,
  NackFrameSchema,
]);
export type HelloFrame = z.infer<typeof HelloFrameSchema>;
export type RunFrame = z.infer<typeof RunFrameSchema>;
export type RunFrameV2 = z.infer<typeof RunFrameV2Schema>;
export type BotFrameV2 = z.infer<typeof BotFrameV2Schema>;
export type CancelFrame = z.infer<typeof CancelFrameSchema>;
export type AckFrame = z.infer<typeof AckFrameSchema>;
export type NackFrame = z.infer<typeof NackFrameSchema>;
export type BotFrame = z.infer<typeof BotFrameSchema>;

// ---------------------------------------------------------------- agent → bot

export const ReadyFrameSchema = z.object({
  op: z.literal("ready"),
  sessionId: nonEmpty,
  resumed: z.boolean(),
  heartbeatMs: z.number().int().positive().optional(),
  /** The protocol the agent picked from `hello.protocols`; absent: v1. */
  protocol: z.enum([PROTOCOL, PROTOCOL_V2]).optional(),
  /** v2: what the agent can do (AG-UI AgentCapabilities). */
  capabilities: AgentCapabilitiesSchema.optional(),
});
const envelope = {
  op: z.literal("event"),
  seq,
  threadId: nonEmpty,
  runId: nonEmpty,
  /** Only on agent-initiated runs: post to the opted-in rooms (`threadId` "*") or the thread's room. */
  proactive: z.boolean().optional(),
};
export const EventFrameSchema = z.object({ ...envelope, event: AgentEventSchema });
/** v2: the event is AG-UI 1.0; RUN_STARTED/RUN_FINISHED must name the envelope's thread and run. */
export const EventFrameV2Schema = z.object({ ...envelope, event: V2EventSchema }).superRefine((frame, ctx) => {
  const mismatch = envelopeMismatch(frame.event, frame.threadId, frame.runId);
  if (mismatch !== undefined) ctx.addIssue({ code: "custom", path: ["event"], message: mismatch });
});
export const ErrorFrameSchema = z.object({
  op: z.literal("error"),
  runId: z.string().optional(),
  code: z.string(),
  message: z.string(),
});
export const AgentFrameSchema = z.discriminatedUnion("op", [ReadyFrameSchema, EventFrameSchema, ErrorFrameSchema]);
const AgentFrameV2Schema = z.discriminatedUnion("op", [ReadyFrameSchema, EventFrameV2Schema, ErrorFrameSchema]);
export type ReadyFrame = z.infer<typeof ReadyFrameSchema>;
export type EventFrame = z.infer<typeof EventFrameSchema>;
export type EventFrameV2 = z.infer<typeof EventFrameV2Schema>;
export type AgentFrameV2 = z.infer<typeof AgentFrameV2Schema>;
export type ErrorFrame = z.infer<typeof ErrorFrameSchema>;
export type AgentFrame = z.infer<typeof AgentFrameSchema>;

// ---------------------------------------------------------------- parsing helpers

export type ParseResult<F> = { ok: true; frame: F } | { ok: false; error: string; runId?: string };

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length > 0 ? i.path.join(".") : "(frame)"}: ${i.message}`)
    .join("; ");
}

/** `fast`: a hand check that may return the schema's output for a common frame (undefined: the schema judges). */
function parseWith<F>(schema: z.ZodType<F>, raw: string, fast?: (json: Record<string, unknown>) => F | undefined): ParseResult<F> {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, error: "not JSON" };
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return { ok: false, error: "frame is not a JSON object" };
  }
  const quick = fast?.(json as Record<string, unknown>);
  if (quick !== undefined) return { ok: true, frame: quick };
  const parsed = schema.safeParse(json);
  if (parsed.success) return { ok: true, frame: parsed.data };
  const runId = (json as { runId?: unknown }).runId;
  const error = describeIssues(parsed.error);
  return typeof runId === "string" && runId.length > 0 ? { ok: false, error, runId } : { ok: false, error };
}

/**
 * Parse one agent → bot frame of a connection speaking `version` (the ready frame is the same in both). A
 * malformed frame still yields its runId when it carries a string one.
 */
export function parseAgentFrame(raw: string, version?: 1): ParseResult<AgentFrame>;
export function parseAgentFrame(raw: string, version: 2): ParseResult<AgentFrameV2>;
export function parseAgentFrame(raw: string, version: ProtocolVersion): ParseResult<AgentFrame | AgentFrameV2>;
export function parseAgentFrame(raw: string, version: ProtocolVersion = 1): ParseResult<AgentFrame | AgentFrameV2> {
  return version === 2 ? parseWith(AgentFrameV2Schema, raw) : parseWith(AgentFrameSchema, raw, fastEventFrameV1);
}

/** Parse one bot → agent frame (used by agents, e.g. the reference agent) of a connection speaking `version`. */
export function parseBotFrame(raw: string, version?: 1): ParseResult<BotFrame>;
export function parseBotFrame(raw: string, version: 2): ParseResult<BotFrameV2>;
export function parseBotFrame(raw: string, version: ProtocolVersion): ParseResult<BotFrame | BotFrameV2>;
export function parseBotFrame(raw: string, version: ProtocolVersion = 1): ParseResult<BotFrame | BotFrameV2> {
  return version === 2 ? parseWith(BotFrameV2Schema, raw) : parseWith(BotFrameSchema, raw);
}

/** The protocol a `ready` frame picked. */
export function versionOf(ready: ReadyFrame): ProtocolVersion {
  return ready.protocol === PROTOCOL_V2 ? 2 : 1;
}
